using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace TsmLab.Spdm.Wire;

/// <summary>The SPDM certificate chain format of one slot: Length u16, reserved u16, RootHash[H], DER certificates root first [SP1,D3].</summary>
/// <remarks>
/// DSP0274 "Certificate chain format" [SP1]: Length is the whole chain including the 4-byte header
/// and the root hash; RootHash is the root certificate's digest with the negotiated hash, so the
/// chain's bytes (and its GET_DIGESTS digest) depend on the hash algorithm. Reading splits the DER
/// certificates by their outer SEQUENCE lengths; every length is bounds-checked.
/// </remarks>
public static class SpdmCertChainFormat
{
    public const int HeaderSize = 4;

    /// <summary>Builds the chain for <paramref name="certificatesRootFirst"/> with the negotiated hash.</summary>
    public static byte[] Build(IReadOnlyList<byte[]> certificatesRootFirst, SpdmAlgorithmSet algorithms)
    {
        int h = algorithms.HashSize, total = HeaderSize + h;
        foreach (var c in certificatesRootFirst) total += c.Length;
        if (total > ushort.MaxValue) throw new ArgumentException("an SPDM 1.2 certificate chain is at most 65535 bytes", nameof(certificatesRootFirst));
        var chain = new byte[total];
        BinaryPrimitives.WriteUInt16LittleEndian(chain, (ushort)total);
        algorithms.Hash(certificatesRootFirst[0], chain.AsSpan(HeaderSize, h));
        int at = HeaderSize + h;
        foreach (var c in certificatesRootFirst)
        {
            c.CopyTo(chain, at);
            at += c.Length;
        }
        return chain;
    }

    /// <summary>Splits a chain into its DER certificates; false when the header, the root hash or a length is wrong.</summary>
    public static bool TrySplit(ReadOnlySpan<byte> chain, SpdmAlgorithmSet algorithms, out List<(int Offset, int Length)> certificates)
    {
        certificates = [];
        int h = algorithms.HashSize, start = HeaderSize + h;
        if (chain.Length <= start || BinaryPrimitives.ReadUInt16LittleEndian(chain) != chain.Length) return false;
        int at = start;
        while (at < chain.Length)
        {
            int len = DerLength(chain[at..]);
            if (len <= 0 || len > chain.Length - at) return false;
            certificates.Add((at, len));
            at += len;
        }
        Span<byte> rootHash = stackalloc byte[64];
        algorithms.Hash(chain.Slice(start, certificates[0].Length), rootHash);
        return rootHash[..h].SequenceEqual(chain.Slice(HeaderSize, h));
    }

    /// <summary>
    /// Verifies a chain against a provisioned root: the format, the root hash, and an X.509 path from
    /// <paramref name="trustedRoot"/> to the leaf (<see cref="CertificatePath"/>: names, signatures,
    /// validity at <paramref name="at"/>, CA constraints; no revocation: the model has no CRLs).
    /// Returns the leaf's ECDSA key, or null with a reason.
    /// </summary>
    public static ECDsa? VerifyAndGetLeafKey(ReadOnlySpan<byte> chain, SpdmAlgorithmSet algorithms, X509Certificate2 trustedRoot, DateTimeOffset at, out string? reason)
    {
        reason = null;
        if (!TrySplit(chain, algorithms, out var parts))
        {
            reason = "the certificate chain is malformed or its root hash is wrong";
            return null;
        }
        var key = VerifyPath(chain, parts, trustedRoot, at, out reason);
        if (key is not null && SpdmAlgorithmSet.AsymFor(key) != algorithms.BaseAsym)
        {
            key.Dispose();
            reason = "the leaf key does not match the negotiated asymmetric algorithm";
            return null;
        }
        return key;
    }

    /// <summary>
    /// Verifies a chain whose hash algorithm the caller does not know (a host that only relayed the
    /// negotiation): the root hash must be the SHA-256 or SHA-384 digest of the root
    /// certificate, then the X.509 path as <see cref="VerifyAndGetLeafKey"/>. The leaf's key, or null with a reason.
    /// </summary>
    public static ECDsa? VerifyToRoot(ReadOnlySpan<byte> chain, X509Certificate2 trustedRoot, DateTimeOffset at, out string? reason)
    {
        foreach (uint hash in (ReadOnlySpan<uint>)[SpdmAlgorithmBits.HashSha256, SpdmAlgorithmBits.HashSha384])
            if (TrySplit(chain, new SpdmAlgorithmSet(0, hash, 0, 0, 0, 0), out var parts))
                return VerifyPath(chain, parts, trustedRoot, at, out reason);
        reason = "the certificate chain is malformed or its root hash is wrong";
        return null;
    }

    private static ECDsa? VerifyPath(ReadOnlySpan<byte> chain, List<(int Offset, int Length)> parts, X509Certificate2 trustedRoot, DateTimeOffset at, out string? reason)
    {
        reason = null;
        var certs = new List<X509Certificate2>();
        try
        {
            foreach (var (o, l) in parts)
                certs.Add(X509CertificateLoader.LoadCertificate(chain.Slice(o, l)));
            var leaf = certs[^1];
            if (CertificatePath.Validate(certs, trustedRoot, at.UtcDateTime) is { } problem)
            {
                reason = "the certificate chain does not verify to the provisioned root: " + problem;
                return null;
            }
            var key = leaf.GetECDsaPublicKey();
            if (key is null) reason = "the leaf key is not an ECDSA key";
            return key;
        }
        catch (CryptographicException e)
        {
            reason = "a certificate does not parse: " + e.Message;
            return null;
        }
        finally
        {
            foreach (var c in certs) c.Dispose();
        }
    }

    /// <summary>Splits concatenated DER certificates (a chain file, root first); false when a length runs past the end or nothing is there.</summary>
    public static bool TrySplitDer(ReadOnlySpan<byte> concatenated, out List<byte[]> certificates)
    {
        certificates = [];
        for (int at = 0; at < concatenated.Length;)
        {
            int len = DerLength(concatenated[at..]);
            if (len <= 0 || len > concatenated.Length - at) return false;
            certificates.Add(concatenated.Slice(at, len).ToArray());
            at += len;
        }
        return certificates.Count > 0;
    }

    /// <summary>Total length of the DER SEQUENCE (definite length, at most 3 length bytes) at the start of <paramref name="der"/>, or -1; the caller checks it fits.</summary>
    public static int DerLength(ReadOnlySpan<byte> der)
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
