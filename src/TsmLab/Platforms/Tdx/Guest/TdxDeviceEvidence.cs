using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using TsmLab.Platforms.Tdx.Abi;
using TsmLab.Spdm.Wire;

namespace TsmLab.Platforms.Tdx.Guest;

/// <summary>
/// The TD's check of the device attestation info the (untrusted) host delivered, after its
/// SHA-384 matched what the module reports (TDG.TDI.RD(DEVICE_ATTESTATION_INFO_HASH)): the SPDM
/// certificate chain (length, root hash, each certificate issued by the one before it, checked with
/// the requester's own signature check) and the
/// signed SPDM measurements of the module's session, verified with the leaf key over the VCA
/// transcript (layout: <see cref="DeviceAttestationInfo"/>).
/// </summary>
public static class TdxDeviceEvidence
{
    /// <summary>Null when the info is consistent, else what is wrong.</summary>
    public static string? Check(ReadOnlySpan<byte> info)
    {
        if (info.Length < 4) return "device info too short";
        uint chainLength = BinaryPrimitives.ReadUInt32LittleEndian(info);
        if (chainLength > (uint)info.Length - 4) return "certificate chain length out of range";
        var chain = info.Slice(DeviceAttestationInfo.CertChain, (int)chainLength);
        var meas = info[(DeviceAttestationInfo.CertChain + (int)chainLength)..];
        // The TD's devices negotiate SHA-384: the chain's root hash is 48 bytes.
        if (!SpdmCertChainFormat.TrySplit(chain, Sha384Chain, out var parts)) return "certificate chain header, root hash or certificate lengths wrong";
        var certs = new List<X509Certificate2>();
        try
        {
            foreach (var (offset, length) in parts) certs.Add(X509CertificateLoader.LoadCertificate(chain.Slice(offset, length)));
            if (certs.Count < 2) return "certificate chain has no leaf";
            for (int i = 1; i < certs.Count; i++)
                if (!certs[i].IssuerName.RawData.AsSpan().SequenceEqual(certs[i - 1].SubjectName.RawData)
                    || CertificatePath.SignatureProblem(certs[i], certs[i - 1]) is not null)
                    return "certificate not signed by its issuer";
            return MeasurementsSigned(certs[^1], meas) ? null : "measurements not signed by the device";
        }
        catch (CryptographicException) { return "certificate does not parse"; }
        finally { foreach (var c in certs) c.Dispose(); }
    }

    private static readonly SpdmAlgorithmSet Sha384Chain = new(0, SpdmAlgorithmBits.HashSha384, 0, 0, 0, 0);

    /// <summary>After the chain: vca_length u32, the VCA transcript, then the signed GET_MEASUREMENTS and its MEASUREMENTS, verified over VCA || both [SP1].</summary>
    private static bool MeasurementsSigned(X509Certificate2 leaf, ReadOnlySpan<byte> m)
    {
        if (m.Length < 4) return false;
        uint vcaLength = BinaryPrimitives.ReadUInt32LittleEndian(m);
        if (vcaLength > (uint)m.Length - 4) return false;
        using var key = leaf.GetECDsaPublicKey();
        return key is not null && TsmLab.Spdm.Wire.SpdmMeasurementEvidence.Verify(m.Slice(4, (int)vcaLength), m[(4 + (int)vcaLength)..], default, key);
    }
}
