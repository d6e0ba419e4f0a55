using TsmLab.Tdisp.Requester;

namespace TsmLab.Platforms.SevTio.Firmware;

/// <summary>The SPDM collateral of a device: its certificate chain (SPDM format) and DMTF measurement blocks.</summary>
/// <remarks>
/// How the PSP reaches a device. On real hardware the PSP builds SPDM requests, returns
/// SEV_RET_SPDM_REQUEST, and the host driver carries them over the device's DOE mailbox [S5]; here
/// the host driver hands the PSP a transport that does exactly that framing (DoeTransport over the
/// device's DOE mailbox). SPDM itself (certificates, signed measurements, the secure session) is
/// not modelled yet: the collateral stands for what GET_CERTIFICATE and GET_MEASUREMENTS would
/// return.
/// </remarks>
public sealed record SpdmCollateral(byte[] CertificateChain, IReadOnlyList<byte[]> MeasurementBlocks);

/// <summary>The host's DOE route from the PSP to a device, by device id (segment &lt;&lt; 16 | RID of PF0).</summary>
public interface IPspDeviceRoute
{
    /// <summary>The TDISP/IDE_KM transport to the device, or null when there is none.</summary>
    ITdispTransport? Transport(uint deviceId);

    /// <summary>The device's SPDM collateral, or null.</summary>
    SpdmCollateral? Collateral(uint deviceId);
}

/// <summary>No route yet: no device can be reached.</summary>
internal sealed class NoDeviceRoute : IPspDeviceRoute
{
    public static readonly NoDeviceRoute Instance = new();
    public ITdispTransport? Transport(uint deviceId) => null;
    public SpdmCollateral? Collateral(uint deviceId) => null;
}
