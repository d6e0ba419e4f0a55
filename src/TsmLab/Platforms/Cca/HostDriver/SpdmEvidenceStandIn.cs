using System.Buffers.Binary;
using System.Security.Cryptography;
using TsmLab.Platforms.Cca.Firmware;
using TsmLab.Tdisp.Device;

namespace TsmLab.Platforms.Cca.HostDriver;

/// <summary>
/// Device side: what the DSM's SPDM responder would answer to GET_CERTIFICATE and
/// GET_MEASUREMENTS, built from its <see cref="DeviceIdentity"/> (the device models only SPDM
/// VENDOR_DEFINED, docs/tdisp.md). Measurements are signed with the device's own leaf key over
/// the requester's nonce, so a realm can check freshness and origin.
/// </summary>
public sealed class SpdmEvidenceStandIn(DeviceIdentity identity) : ISpdmEvidence
{
    public byte[] CertificateChain() => identity.SpdmCertificateChain();

    public byte[] LeafPublicKey() => identity.LeafCertificate.PublicKey.ExportSubjectPublicKeyInfo();

    public byte[] SignedMeasurements(ReadOnlySpan<byte> nonce, bool raw)
    {
        byte[] record = identity.MeasurementRecord();
        int signed = 32 + 4 + record.Length;
        var b = new byte[signed + 2 + 96];
        nonce[..32].CopyTo(b);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(32), (uint)record.Length);
        record.CopyTo(b, 36);
        int n = identity.SignWithLeafKey(b.AsSpan(0, signed), b.AsSpan(signed + 2));
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(signed), (ushort)n);
        return b;
    }
}
