using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using TsmLab.Platforms.Tdx.Abi;

namespace TsmLab.Platforms.Tdx.Guest;

/// <summary>
/// The TD's check of the device attestation info the (untrusted) host delivered, after its
/// SHA-384 matched what the module reports (TDG.TDI.RD(DEVICE_ATTESTATION_INFO_HASH)): the SPDM
/// certificate chain (length, root hash, root self-signed, leaf issued by the root) and the
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
        if (chain.Length < 52 || BinaryPrimitives.ReadUInt16LittleEndian(chain) != chain.Length) return "certificate chain header wrong";
        var certs = new List<X509Certificate2>();
        try
        {
            int at = 52;
            while (at < chain.Length)
            {
                int len = DerLength(chain[at..]);
                if (len <= 0 || at + len > chain.Length) return "certificate chain does not parse";
                certs.Add(X509CertificateLoader.LoadCertificate(chain.Slice(at, len)));
                at += len;
            }
            if (certs.Count < 2) return "certificate chain has no leaf";
            if (!SHA384.HashData(certs[0].RawData).AsSpan().SequenceEqual(chain.Slice(4, 48))) return "root hash does not match the root certificate";
            for (int i = 1; i < certs.Count; i++)
                if (!IssuedBy(certs[i], certs[i - 1])) return "certificate not signed by its issuer";
            return MeasurementsSigned(certs[^1], meas) ? null : "measurements not signed by the device";
        }
        catch (CryptographicException) { return "certificate does not parse"; }
        finally { foreach (var c in certs) c.Dispose(); }
    }

    private static bool IssuedBy(X509Certificate2 cert, X509Certificate2 issuer)
    {
        using var key = issuer.GetECDsaPublicKey();
        if (key is null || cert.IssuerName.RawData.AsSpan().SequenceEqual(issuer.SubjectName.RawData) == false) return false;
        // X.509: tbsCertificate, signatureAlgorithm, signatureValue (ECDSA DER) [RFC 5280].
        var reader = new System.Formats.Asn1.AsnReader(cert.RawData, System.Formats.Asn1.AsnEncodingRules.DER).ReadSequence();
        var tbs = reader.ReadEncodedValue();
        reader.ReadSequence();
        var sig = reader.ReadBitString(out _);
        return key.VerifyData(tbs.Span, sig, HashAlgorithmName.SHA384, DSASignatureFormat.Rfc3279DerSequence);
    }

    /// <summary>After the chain: vca_length u32, the VCA transcript, then the signed GET_MEASUREMENTS and its MEASUREMENTS, verified over VCA || both [SP1].</summary>
    private static bool MeasurementsSigned(X509Certificate2 leaf, ReadOnlySpan<byte> m)
    {
        if (m.Length < 4) return false;
        uint vcaLength = BinaryPrimitives.ReadUInt32LittleEndian(m);
        if (vcaLength > (uint)m.Length - 4) return false;
        using var key = leaf.GetECDsaPublicKey();
        return key is not null && TsmLab.Spdm.Wire.SpdmMeasurementEvidence.Verify(m.Slice(4, (int)vcaLength), m[(4 + (int)vcaLength)..], default, key);
    }

    private static int DerLength(ReadOnlySpan<byte> der)
    {
        if (der.Length < 2 || der[0] != 0x30) return -1;
        if (der[1] < 0x80) return 2 + der[1];
        int n = der[1] & 0x7F;
        if (n is 0 or > 3 || der.Length < 2 + n) return -1;
        int len = 0;
        for (int i = 0; i < n; i++) len = (len << 8) | der[2 + i];
        return 2 + n + len;
    }
}
