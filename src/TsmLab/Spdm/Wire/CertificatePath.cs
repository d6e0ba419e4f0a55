using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace TsmLab.Spdm.Wire;

/// <summary>
/// X.509 path validation of an SPDM certificate chain against the root the host provisioned, as a
/// TSM's firmware does it (RFC 5280 §6.1, the parts a device chain uses) [RF2]: from the trust
/// anchor down to the leaf, every certificate's issuer name is its parent's subject, its signature
/// verifies under its parent's key (ECDSA with SHA-256/384/512 or RSA PKCS#1 v1.5, through the
/// BCL), it is valid at the given time, and it carries no critical extension this validator does
/// not process; every issuer is a CA (basicConstraints cA, keyCertSign when keyUsage is present,
/// pathLenConstraint honoured). The chain's first certificate is the anchor itself or one the anchor
/// issued. No revocation (the model has no CRLs) and no name constraints (a critical one fails).
/// </summary>
/// <remarks>
/// TsmLab definition of the requester's policy; DSP0274 leaves chain validation to the requester
/// [SP1]. Written instead of <see cref="X509Chain"/> because that loads the machine's whole trust
/// store on first use in a process (≈ 60 ms here, even with a custom root) and verifies more than a
/// device chain needs; the signature checks are the BCL's.
/// </remarks>
internal static class CertificatePath
{
    private const string BasicConstraints = "2.5.29.19", KeyUsage = "2.5.29.15", ExtendedKeyUsage = "2.5.29.37",
        SubjectAltName = "2.5.29.17", SubjectKeyId = "2.5.29.14", AuthorityKeyId = "2.5.29.35", CertificatePolicies = "2.5.29.32";

    /// <summary>Null when <paramref name="chain"/> (root first) validates to <paramref name="anchor"/> at <paramref name="at"/>; otherwise the reason.</summary>
    public static string? Validate(IReadOnlyList<X509Certificate2> chain, X509Certificate2 anchor, DateTime at)
    {
        if (chain.Count == 0) return "the certificate chain is empty";
        int first = chain[0].RawDataMemory.Span.SequenceEqual(anchor.RawDataMemory.Span) ? 1 : 0;
        var issuer = anchor;
        // RFC 5280 max_path_length: the anchor's pathLenConstraint bounds the CAs below it.
        int maxPath = PathLength(anchor) ?? int.MaxValue;
        for (int i = 0; i < chain.Count; i++)
        {
            var cert = chain[i];
            if (DescribeValidity(cert, at) is { } expired) return $"certificate {i} ({cert.Subject}) {expired}";
            if (UnprocessedCriticalExtension(cert) is { } oid) return $"certificate {i} ({cert.Subject}) has a critical extension {oid} this requester does not process";
            if (i < first) continue; // the anchor itself, carried in the chain
            if (CaProblem(issuer) is { } notCa) return $"the issuer of certificate {i} ({issuer.Subject}) {notCa}";
            if (!issuer.SubjectName.RawData.AsSpan().SequenceEqual(cert.IssuerName.RawData))
                return $"certificate {i} ({cert.Subject}) names issuer '{cert.Issuer}', not '{issuer.Subject}'";
            if (SignatureProblem(cert, issuer) is { } bad) return $"certificate {i} ({cert.Subject}) {bad}";
            if (i < chain.Count - 1)
            {
                // Certificate i issues the next one (RFC 5280 §6.1.4 (l), (m)).
                if (!IsSelfIssued(cert))
                {
                    if (maxPath <= 0) return $"certificate {i} ({cert.Subject}) is a CA beyond its issuers' pathLenConstraint";
                    maxPath--;
                }
                if (PathLength(cert) is { } l && l < maxPath) maxPath = l;
            }
            issuer = cert;
        }
        return null;
    }

    private static string? DescribeValidity(X509Certificate2 cert, DateTime at) =>
        at < cert.NotBefore.ToUniversalTime() ? $"is not valid before {cert.NotBefore.ToUniversalTime():u}"
        : at > cert.NotAfter.ToUniversalTime() ? $"expired at {cert.NotAfter.ToUniversalTime():u}"
        : null;

    private static bool IsSelfIssued(X509Certificate2 cert) => cert.SubjectName.RawData.AsSpan().SequenceEqual(cert.IssuerName.RawData);

    private static string? UnprocessedCriticalExtension(X509Certificate2 cert)
    {
        foreach (var e in cert.Extensions)
            if (e.Critical && e.Oid?.Value is not (BasicConstraints or KeyUsage or ExtendedKeyUsage or SubjectAltName or SubjectKeyId or AuthorityKeyId or CertificatePolicies))
                return e.Oid?.Value ?? "(no OID)";
        return null;
    }

    private static string? CaProblem(X509Certificate2 issuer)
    {
        if (issuer.Extensions[BasicConstraints] is not X509BasicConstraintsExtension { CertificateAuthority: true })
            return "is not a CA (basicConstraints cA is not set)";
        if (issuer.Extensions[KeyUsage] is X509KeyUsageExtension ku && (ku.KeyUsages & X509KeyUsageFlags.KeyCertSign) == 0)
            return "may not sign certificates (keyUsage lacks keyCertSign)";
        return null;
    }

    private static int? PathLength(X509Certificate2 ca) =>
        ca.Extensions[BasicConstraints] is X509BasicConstraintsExtension { HasPathLengthConstraint: true } b ? b.PathLengthConstraint : null;

    /// <summary>Null when <paramref name="cert"/>'s signature verifies under <paramref name="issuer"/>'s key (with the hash its signatureAlgorithm names); else why not.</summary>
    internal static string? SignatureProblem(X509Certificate2 cert, X509Certificate2 issuer)
    {
        ReadOnlyMemory<byte> tbs;
        byte[] signature;
        string? algorithm;
        try
        {
            var outer = new AsnReader(cert.RawDataMemory, AsnEncodingRules.DER).ReadSequence();
            tbs = outer.ReadEncodedValue();
            algorithm = outer.ReadSequence().ReadObjectIdentifier();
            signature = outer.ReadBitString(out int unused);
            if (unused != 0) return "has a signature that is not whole bytes";
        }
        catch (AsnContentException)
        {
            return "does not decode as a certificate";
        }
        var hash = algorithm switch
        {
            "1.2.840.10045.4.3.2" or "1.2.840.113549.1.1.11" => HashAlgorithmName.SHA256,
            "1.2.840.10045.4.3.3" or "1.2.840.113549.1.1.12" => HashAlgorithmName.SHA384,
            "1.2.840.10045.4.3.4" or "1.2.840.113549.1.1.13" => HashAlgorithmName.SHA512,
            _ => default,
        };
        if (hash == default) return $"is signed with an algorithm this requester does not verify ({algorithm})";
        bool ecdsa = algorithm!.StartsWith("1.2.840.10045.", StringComparison.Ordinal);
        try
        {
            if (ecdsa)
            {
                using var key = issuer.GetECDsaPublicKey();
                if (key is null) return "is signed with ECDSA but its issuer's key is not an EC key";
                return key.VerifyData(tbs.Span, signature, hash, DSASignatureFormat.Rfc3279DerSequence) ? null : "has a signature that does not verify under its issuer's key";
            }
            using var rsa = issuer.GetRSAPublicKey();
            if (rsa is null) return "is signed with RSA but its issuer's key is not an RSA key";
            return rsa.VerifyData(tbs.Span, signature, hash, RSASignaturePadding.Pkcs1) ? null : "has a signature that does not verify under its issuer's key";
        }
        catch (CryptographicException e)
        {
            return "has a signature that cannot be checked: " + e.Message;
        }
    }
}
