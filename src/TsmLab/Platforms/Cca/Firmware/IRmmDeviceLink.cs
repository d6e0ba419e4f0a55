using TsmLab.Tdisp.Requester;

namespace TsmLab.Platforms.Cca.Firmware;

/// <summary>
/// How the RMM's messages reach a physical device. In Arm CCA the RMM owns the SPDM/TDISP
/// conversation but the host relays every DOE object (RMI_PDEV_COMMUNICATE /
/// RMI_VDEV_COMMUNICATE). The model collapses that relay loop into one call: the host driver
/// hands the RMM a transport to the DSM's DOE mailbox, so the bytes are the ones the host would
/// relay, framed by DOE and SPDM VENDOR_DEFINED.
/// </summary>
public interface IRmmDeviceLink
{
    /// <summary>The DOE transport to the DSM named by <paramref name="pdevId"/> (segment &lt;&lt; 16 | RID), or null.</summary>
    ITdispTransport? TransportFor(ulong pdevId);

    /// <summary>
    /// The SPDM evidence of that DSM (certificate chain, VCA facts, signed measurements), or null.
    /// The TDISP device models only SPDM VENDOR_DEFINED (docs/tdisp.md), so GET_CERTIFICATE and
    /// GET_MEASUREMENTS are a stand-in returning what those responses carry.
    /// </summary>
    ISpdmEvidence? EvidenceFor(ulong pdevId);
}

/// <summary>No relay yet: no device can be reached.</summary>
internal sealed class NoDeviceLink : IRmmDeviceLink
{
    public static readonly NoDeviceLink Instance = new();
    public ITdispTransport? TransportFor(ulong pdevId) => null;
    public ISpdmEvidence? EvidenceFor(ulong pdevId) => null;
}

/// <summary>What SPDM GET_CERTIFICATE / GET_MEASUREMENTS would give the RMM (a stand-in; see <see cref="IRmmDeviceLink"/>).</summary>
public interface ISpdmEvidence
{
    /// <summary>The SPDM certificate chain of slot 0 (DSP0274 format).</summary>
    byte[] CertificateChain();

    /// <summary>The leaf certificate's public key (SubjectPublicKeyInfo DER), whose digest the RMM reports.</summary>
    byte[] LeafPublicKey();

    /// <summary>
    /// A measurement transcript for <paramref name="nonce"/> (32 bytes): TsmLab layout nonce[32],
    /// record_length u32, the DMTF measurement record, signature_length u16, then the device's
    /// ECDSA P-384 signature (IEEE P1363) over everything before it. <paramref name="raw"/>:
    /// raw bit streams were asked for (flags RAW); the record is the same either way.
    /// </summary>
    byte[] SignedMeasurements(ReadOnlySpan<byte> nonce, bool raw);
}
