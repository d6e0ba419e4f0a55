using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace TsmLab.Tdisp.Wire;

/// <summary>
/// Reading an SPDM certificate chain (DSP0274 CERT_CHAIN): Length u16 (the whole chain), reserved
/// u16, the root certificate's hash (48 bytes for SHA-384, the hash TsmLab devices use), then the
/// DER certificates, root first, leaf last.
/// </summary>
public static class SpdmCertificateChain
{
    /// <summary>Length of the header before the root hash.</summary>
    public const int HeaderSize = 4;

    /// <summary>The leaf (last) certificate of a chain with a <paramref name="rootHashSize"/>-byte root hash, or null when the chain does not parse.</summary>
    public static X509Certificate2? Leaf(ReadOnlySpan<byte> chain, int rootHashSize = 48)
    {
        int start = HeaderSize + rootHashSize;
        if (chain.Length < start || BinaryPrimitives.ReadUInt16LittleEndian(chain) != chain.Length) return null;
        int at = start, last = -1, lastLen = 0;
        while (at < chain.Length)
        {
            int len = TsmLab.Spdm.Wire.SpdmCertChainFormat.DerLength(chain[at..]);
            if (len <= 0 || len > chain.Length - at) return null;
            last = at;
            lastLen = len;
            at += len;
        }
        if (last < 0) return null;
        try { return X509CertificateLoader.LoadCertificate(chain.Slice(last, lastLen)); }
        catch (CryptographicException) { return null; }
    }
}
