using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using TsmLab.Tdisp.Device;

namespace TsmLab.Spdm.Responder;

/// <summary>One measurement the responder reports: DMTF measurement index, type and its raw value [SP1].</summary>
/// <param name="Index">Measurement index (1..0xEF here).</param>
/// <param name="Type">DMTFSpecMeasurementValueType bits 6:0.</param>
/// <param name="Value">The raw bit stream; the digest form is its measurement hash.</param>
/// <param name="RawAvailable">Whether the raw bit stream may be returned when the requester asks for it (TsmLab definition: the device configuration's "raw" flag).</param>
public sealed record SpdmMeasurement(byte Index, byte Type, byte[] Value, bool RawAvailable);

/// <summary>What a responder proves itself with: slot 0's certificate chain, the leaf's private key and its measurements.</summary>
/// <remarks>
/// The device side of SPDM authentication [SP1]: one provisioned slot (0) holding DER certificates
/// root first, the ECDSA key of the leaf (P-256 or P-384; it fixes the BaseAsymAlgo the responder
/// offers), and the measurements GET_MEASUREMENTS reports. <see cref="FromDevice"/> takes the
/// device's deterministic identity (DeviceIdentity) so runs stay byte-stable in their certificates.
/// </remarks>
public sealed class SpdmResponderIdentity(IReadOnlyList<byte[]> certificatesRootFirst, ECDsa leafKey, IReadOnlyList<SpdmMeasurement> measurements)
{
    public IReadOnlyList<byte[]> CertificatesRootFirst { get; } = certificatesRootFirst.Count > 0 ? certificatesRootFirst
        : throw new ArgumentException("a certificate chain needs at least one certificate", nameof(certificatesRootFirst));
    public ECDsa LeafKey { get; } = leafKey;
    public IReadOnlyList<SpdmMeasurement> Measurements { get; } = measurements;

    /// <summary>The identity of a TDISP device: its DeviceIdentity chain and key, and its configured measurements.</summary>
    public static SpdmResponderIdentity FromDevice(DeviceIdentity identity, DeviceConfiguration configuration) =>
        new(identity.CertificateChainDer, identity.LeafKey,
            [.. configuration.Identity.Measurements.Select(m => new SpdmMeasurement(m.Index, m.Type, m.Value, m.Raw))]);
}
