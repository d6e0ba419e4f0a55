using System.Security.Cryptography;

namespace TsmLab.Spdm.Wire;

/// <summary>The algorithms a connection negotiated, with the sizes DSP0274 derives from them [SP1].</summary>
/// <remarks>
/// One value per ALGORITHMS field TsmLab models: BaseAsymSel (ECDSA P-256/P-384), BaseHashSel
/// (SHA-256/384), MeasurementHashAlgo, DHE (secp256r1/secp384r1), AEAD (AES-128-GCM, AES-256-GCM,
/// ChaCha20-Poly1305) and the SPDM key schedule. H is the hash size, S the signature size (r||s,
/// each the curve's size), D the DHE exchange data size (X||Y).
/// </remarks>
public readonly record struct SpdmAlgorithmSet(uint BaseAsym, uint BaseHash, uint MeasurementHash, ushort Dhe, ushort Aead, ushort KeySchedule)
{
    /// <summary>H: the negotiated hash's output size (0 when none).</summary>
    public int HashSize => BaseHash switch
    {
        SpdmAlgorithmBits.HashSha256 => 32,
        SpdmAlgorithmBits.HashSha384 => 48,
        _ => 0,
    };

    /// <summary>S: the signature size for the negotiated asymmetric algorithm.</summary>
    public int SignatureSize => BaseAsym switch
    {
        SpdmAlgorithmBits.AsymEcdsaP256 => 64,
        SpdmAlgorithmBits.AsymEcdsaP384 => 96,
        _ => 0,
    };

    /// <summary>D: the ECDHE exchange data size (X||Y).</summary>
    public int DheSize => Dhe switch
    {
        SpdmAlgorithmBits.DheSecp256r1 => 64,
        SpdmAlgorithmBits.DheSecp384r1 => 96,
        _ => 0,
    };

    /// <summary>The measurement hash's output size.</summary>
    public int MeasurementHashSize => MeasurementHash switch
    {
        SpdmAlgorithmBits.MeasurementHashSha256 => 32,
        SpdmAlgorithmBits.MeasurementHashSha384 => 48,
        _ => 0,
    };

    /// <summary>AEAD key size in bytes (IV is 12, tag 16 for all three).</summary>
    public int AeadKeySize => Aead switch
    {
        SpdmAlgorithmBits.AeadAes128Gcm => 16,
        SpdmAlgorithmBits.AeadAes256Gcm => 32,
        SpdmAlgorithmBits.AeadChaCha20Poly1305 => 32,
        _ => 0,
    };

    public const int AeadIvSize = 12;
    public const int AeadTagSize = 16;

    public HashAlgorithmName HashName => BaseHash == SpdmAlgorithmBits.HashSha256 ? HashAlgorithmName.SHA256 : HashAlgorithmName.SHA384;

    public HashAlgorithmName MeasurementHashName => MeasurementHash == SpdmAlgorithmBits.MeasurementHashSha256 ? HashAlgorithmName.SHA256 : HashAlgorithmName.SHA384;

    public ECCurve DheCurve => Dhe == SpdmAlgorithmBits.DheSecp256r1 ? ECCurve.NamedCurves.nistP256 : ECCurve.NamedCurves.nistP384;

    /// <summary>Hashes with the negotiated hash; returns H.</summary>
    public int Hash(ReadOnlySpan<byte> data, Span<byte> destination) =>
        BaseHash == SpdmAlgorithmBits.HashSha256 ? SHA256.HashData(data, destination) : SHA384.HashData(data, destination);

    /// <summary>Hashes into a new array.</summary>
    public byte[] Hash(ReadOnlySpan<byte> data)
    {
        var h = new byte[HashSize];
        Hash(data, h);
        return h;
    }

    /// <summary>HMAC with the negotiated hash; returns H.</summary>
    public int Hmac(ReadOnlySpan<byte> key, ReadOnlySpan<byte> data, Span<byte> destination) =>
        BaseHash == SpdmAlgorithmBits.HashSha256 ? HMACSHA256.HashData(key, data, destination) : HMACSHA384.HashData(key, data, destination);

    /// <summary>Hashes with the measurement hash.</summary>
    public byte[] MeasurementDigest(ReadOnlySpan<byte> data) =>
        MeasurementHash == SpdmAlgorithmBits.MeasurementHashSha256 ? SHA256.HashData(data) : SHA384.HashData(data);

    /// <summary>The asymmetric algorithm bit for a key's curve (P-256 or P-384), or 0.</summary>
    public static uint AsymFor(ECDsa key)
    {
        int bits = key.KeySize;
        return bits switch { 256 => SpdmAlgorithmBits.AsymEcdsaP256, 384 => SpdmAlgorithmBits.AsymEcdsaP384, _ => 0 };
    }

    /// <summary>Picks the highest-priority bit of <paramref name="common"/> from <paramref name="priority"/>, or 0.</summary>
    public static uint Pick(uint common, ReadOnlySpan<uint> priority)
    {
        foreach (var p in priority)
            if ((common & p) != 0) return p;
        return 0;
    }
}
