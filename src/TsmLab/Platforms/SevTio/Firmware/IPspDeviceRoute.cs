using System.Security.Cryptography.X509Certificates;
using TsmLab.Kernel.Pci;

namespace TsmLab.Platforms.SevTio.Firmware;

/// <summary>The host's DOE route from the PSP to a device, by device id (segment &lt;&lt; 16 | RID of PF0).</summary>
/// <remarks>
/// How the PSP reaches a device. On real hardware the PSP builds SPDM requests, returns
/// SEV_RET_SPDM_REQUEST, and the host driver carries them over the device's DOE mailbox and calls
/// the PSP again with the answer [S5]; here the host driver hands the PSP the DOE mailbox it
/// relays through, one whole DOE object each way (TsmLab definition: the call-return loop is
/// folded into one synchronous exchange per object; the bytes are the same). The PSP runs SPDM
/// itself and everything after KEY_EXCHANGE travels as secured objects the host cannot read.
/// </remarks>
public interface IPspDeviceRoute
{
    /// <summary>The host's DOE access to the device's DSM, or null when there is none.</summary>
    IDoeMailbox? Mailbox(uint deviceId);

    /// <summary>The root certificate the host provisioned for the device's SPDM chain, or null.</summary>
    X509Certificate2? TrustedRoot(uint deviceId);
}

/// <summary>No route yet: no device can be reached.</summary>
internal sealed class NoDeviceRoute : IPspDeviceRoute
{
    public static readonly NoDeviceRoute Instance = new();
    public IDoeMailbox? Mailbox(uint deviceId) => null;
    public X509Certificate2? TrustedRoot(uint deviceId) => null;
}
