using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace TsmLab.Platforms.Cca.Abi;

/// <summary>
/// The device public key as RMI_PDEV_SET_PUBKEY carries it [TR1]: for ECDSA the uncompressed point
/// 04 || X || Y (65 bytes for P-256, 97 for P-384) with RmiSignatureAlgorithm ECDSA_P256/P384. The
/// host takes it from the leaf certificate it cached; the realm digests the same bytes to check
/// rsi_vdev_info.pubkey_digest (TsmLab reading: the pinned TF-RMM leaves that digest unset, the
/// spec names it the digest of the device public key).
/// </summary>
public static class DevicePublicKey
{
    /// <summary>Encodes the leaf's public key; false for a key type RMI_PDEV_SET_PUBKEY does not take.</summary>
    public static bool TryEncode(X509Certificate2 leaf, out byte[] key, out byte algorithm)
    {
        key = [];
        algorithm = 0;
        using var ec = leaf.GetECDsaPublicKey();
        return ec is not null && TryEncode(ec, out key, out algorithm);
    }

    /// <summary>Encodes an ECDSA P-256 or P-384 public key; false for another curve.</summary>
    public static bool TryEncode(ECDsa ec, out byte[] key, out byte algorithm)
    {
        key = [];
        var p = ec.ExportParameters(false);
        algorithm = p.Curve.Oid.Value switch
        {
            "1.2.840.10045.3.1.7" => Rmi.SignatureEcdsaP256,
            "1.3.132.0.34" => Rmi.SignatureEcdsaP384,
            _ => byte.MaxValue,
        };
        if (algorithm == byte.MaxValue || p.Q.X is null || p.Q.Y is null) return false;
        key = [0x04, .. p.Q.X, .. p.Q.Y];
        return key.Length == Rmi.PubkeySize(algorithm);
    }

    /// <summary>The ECDSA key an uncompressed point of <paramref name="algorithm"/> names, or null (not 04 || X || Y of that curve, not on it, or RSA).</summary>
    public static ECDsa? ToEcdsa(ReadOnlySpan<byte> key, byte algorithm)
    {
        ECCurve curve;
        if (algorithm == Rmi.SignatureEcdsaP256) curve = ECCurve.NamedCurves.nistP256;
        else if (algorithm == Rmi.SignatureEcdsaP384) curve = ECCurve.NamedCurves.nistP384;
        else return null;
        if (key.Length != Rmi.PubkeySize(algorithm) || key[0] != 0x04) return null;
        int half = (key.Length - 1) / 2;
        try { return ECDsa.Create(new ECParameters { Curve = curve, Q = new ECPoint { X = key.Slice(1, half).ToArray(), Y = key.Slice(1 + half, half).ToArray() } }); }
        catch (CryptographicException) { return null; }
    }
}
