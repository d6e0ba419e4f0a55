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
        if (ec is null) return false;
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
}
