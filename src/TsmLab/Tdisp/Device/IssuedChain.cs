using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace TsmLab.Tdisp.Device;

/// <summary>
/// The certificate chain the default device's vendor issued once, as a real device carries the
/// chain its manufacturer signed at provisioning: <c>DefaultDeviceChain.der</c>, the root then the
/// leaf certificate (DER, concatenated), whose keys are the ones <see cref="DeviceIdentity"/>
/// derives from the default seed and whose leaf names the default device. Committed, so the default
/// identity's chain and every digest over it are the same in every run: the BCL's ECDSA signatures
/// are randomized and TsmLab writes no signature primitive of its own. <see cref="DeviceIdentity"/>
/// asks it first and signs any other identity itself at first use.
/// </summary>
internal static class IssuedChain
{
    private static readonly Lazy<(byte[] Root, byte[] Leaf)?> Default = new(Load);

    /// <summary>
    /// The issued chain when its root key is <paramref name="rootKey"/>'s, its leaf key is
    /// <paramref name="leafKey"/>'s and its leaf subject is <paramref name="leafSubject"/>; otherwise null.
    /// </summary>
    public static (byte[] Root, byte[] Leaf)? For(X500DistinguishedName leafSubject, ECDsa rootKey, ECDsa leafKey)
    {
        if (Default.Value is not { } chain) return null;
        using var root = X509CertificateLoader.LoadCertificate(chain.Root);
        using var leaf = X509CertificateLoader.LoadCertificate(chain.Leaf);
        bool same = leaf.SubjectName.RawData.AsSpan().SequenceEqual(leafSubject.RawData)
            && root.PublicKey.ExportSubjectPublicKeyInfo().AsSpan().SequenceEqual(rootKey.ExportSubjectPublicKeyInfo())
            && leaf.PublicKey.ExportSubjectPublicKeyInfo().AsSpan().SequenceEqual(leafKey.ExportSubjectPublicKeyInfo());
        return same ? chain : null;
    }

    private static (byte[] Root, byte[] Leaf)? Load()
    {
        using var s = typeof(IssuedChain).Assembly.GetManifestResourceStream("TsmLab.Tdisp.Device.DefaultDeviceChain.der");
        if (s is null) return null;
        var bytes = new byte[s.Length];
        s.ReadExactly(bytes);
        // Two DER SEQUENCEs back to back: the first one's length says where the leaf starts.
        if (!System.Formats.Asn1.AsnDecoder.TryReadEncodedValue(bytes, System.Formats.Asn1.AsnEncodingRules.DER, out _, out _, out _, out int rootLength))
            return null;
        return (bytes[..rootLength], bytes[rootLength..]);
    }
}
