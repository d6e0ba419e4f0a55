using System.Security.Cryptography;

namespace TsmLab.Platforms.Cca.Abi;

/// <summary>
/// RmiHashAlgorithm / RsiHashAlgorithm (the same values) [TR1]: SHA-256 0, SHA-512 1, SHA-384 2.
/// A device digest is written into a 64-byte field, zero-padded after the hash.
/// </summary>
public static class HashAlgorithms
{
    /// <summary>Whether the value names an algorithm the pinned revision defines.</summary>
    public static bool IsDefined(ulong algo) => algo <= Rsi.HashSha384;

    /// <summary>Hashes <paramref name="data"/> with <paramref name="algo"/> into the 64-byte <paramref name="digest64"/>, zero-padded.</summary>
    public static void Digest(ulong algo, ReadOnlySpan<byte> data, Span<byte> digest64)
    {
        digest64.Clear();
        switch (algo)
        {
            case Rsi.HashSha512: SHA512.HashData(data, digest64); break;
            case Rsi.HashSha384: SHA384.HashData(data, digest64); break;
            default: SHA256.HashData(data, digest64); break;
        }
    }
}
