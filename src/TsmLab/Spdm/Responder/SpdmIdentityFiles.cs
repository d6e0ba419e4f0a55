using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using TsmLab.Input;

namespace TsmLab.Spdm.Responder;

/// <summary>
/// A responder identity loaded from files, as DMTF's sample keys come: a certificate chain of
/// concatenated DER certificates, root first (as SPDM's certificate chain carries them), and the
/// leaf's private key in PEM (PKCS#8 "PRIVATE KEY" or SEC1 "EC PRIVATE KEY"). The key must be ECDSA
/// P-256 or P-384 and match the leaf certificate's public key. Also the requester's side: a root
/// certificate file (DER or PEM) the chain must verify to. Every problem is one message naming the
/// file; nothing is thrown for what the files contain.
/// </summary>
public static class SpdmIdentityFiles
{
    /// <summary>The most certificates a chain may hold (TsmLab definition).</summary>
    public const int MaxCertificates = 16;

    /// <summary>Splits concatenated DER certificates, root first; null with <paramref name="problem"/> when the bytes are not that.</summary>
    public static IReadOnlyList<byte[]>? ReadChain(ReadOnlySpan<byte> der, out string problem)
    {
        problem = "";
        var certs = new List<byte[]>();
        int at = 0;
        while (at < der.Length)
        {
            if (certs.Count == MaxCertificates) { problem = $"more than {MaxCertificates} certificates"; return null; }
            int length = Wire.SpdmCertChainFormat.DerLength(der[at..]);
            if (length <= 0 || length > der.Length - at) { problem = $"bytes at offset {at} are not a DER SEQUENCE that fits"; return null; }
            try
            {
                using var cert = X509CertificateLoader.LoadCertificate(der.Slice(at, length));
            }
            catch (CryptographicException)
            {
                problem = $"the DER object at offset {at} is not an X.509 certificate";
                return null;
            }
            certs.Add(der.Slice(at, length).ToArray());
            at += length;
        }
        if (certs.Count == 0) { problem = "no certificate"; return null; }
        return certs;
    }

    /// <summary>The ECDSA key of a PEM file (PKCS#8 or SEC1); null with <paramref name="problem"/> otherwise.</summary>
    public static ECDsa? ReadKey(string pem, out string problem)
    {
        problem = "";
        var key = ECDsa.Create();
        try
        {
            key.ImportFromPem(pem);
        }
        catch (Exception e) when (e is ArgumentException or CryptographicException)
        {
            key.Dispose();
            problem = "not a PEM ECDSA private key (PKCS#8 \"PRIVATE KEY\" or SEC1 \"EC PRIVATE KEY\")";
            return null;
        }
        if (key.KeySize is not (256 or 384))
        {
            problem = $"an ECDSA key of {key.KeySize} bits; SPDM here signs with P-256 or P-384";
            key.Dispose();
            return null;
        }
        return key;
    }

    /// <summary>
    /// A certificate file, DER or PEM (at most 1 MiB, a regular file; <paramref name="what"/> names it
    /// in messages): a provisioned SPDM root. Null with <paramref name="problem"/> otherwise.
    /// </summary>
    public static X509Certificate2? ReadCertificateFile(string path, string what, out string problem)
    {
        problem = "";
        try
        {
            byte[] bytes = InputFile.ReadAllBytes(path, what);
            string text = System.Text.Encoding.ASCII.GetString(bytes);
            return text.Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal)
                ? X509Certificate2.CreateFromPem(text)
                : X509CertificateLoader.LoadCertificate(bytes);
        }
        catch (InputFileException e)
        {
            problem = e.Message;
        }
        catch (CryptographicException)
        {
            problem = "not a DER or PEM X.509 certificate";
        }
        return null;
    }

    /// <summary>
    /// An identity from the files' contents: the chain split, the key read, and the key matched to
    /// the chain's leaf; the identity carries <paramref name="measurements"/>. Null with
    /// <paramref name="problem"/> (one line, saying which part) otherwise.
    /// </summary>
    public static SpdmResponderIdentity? FromContents(ReadOnlySpan<byte> chainDer, string privateKeyPem, IReadOnlyList<SpdmMeasurement> measurements, out string problem)
    {
        var chain = ReadChain(chainDer, out string why);
        if (chain is null) { problem = $"certificate chain: {why}"; return null; }
        var key = ReadKey(privateKeyPem, out why);
        if (key is null) { problem = $"private key: {why}"; return null; }
        using var leaf = X509CertificateLoader.LoadCertificate(chain[^1]);
        using var leafKey = leaf.GetECDsaPublicKey();
        if (leafKey is null || !leafKey.ExportSubjectPublicKeyInfo().AsSpan().SequenceEqual(key.ExportSubjectPublicKeyInfo()))
        {
            key.Dispose();
            problem = $"private key: does not belong to the chain's leaf certificate ({leaf.Subject})";
            return null;
        }
        problem = "";
        return new SpdmResponderIdentity(chain, key, measurements);
    }

    /// <summary>
    /// Loads the chain and key files (each at most 1 MiB, regular files) as <see cref="FromContents"/>
    /// does; null with <paramref name="problem"/> naming the file for anything wrong.
    /// </summary>
    public static SpdmResponderIdentity? Load(string chainPath, string keyPath, IReadOnlyList<SpdmMeasurement> measurements, out string problem)
    {
        byte[] chainBytes, keyBytes;
        try
        {
            chainBytes = InputFile.ReadAllBytes(chainPath, "certificate chain");
            keyBytes = InputFile.ReadAllBytes(keyPath, "private key");
        }
        catch (InputFileException e)
        {
            problem = e.Message;
            return null;
        }
        var identity = FromContents(chainBytes, System.Text.Encoding.ASCII.GetString(keyBytes), measurements, out problem);
        if (identity is null)
            problem = problem.StartsWith("certificate chain", StringComparison.Ordinal)
                ? $"certificate chain '{Printable.Of(chainPath)}'{problem["certificate chain".Length..]}"
                : $"private key '{Printable.Of(keyPath)}'{problem["private key".Length..]}";
        return identity;
    }
}
