using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using TsmLab.Spdm.Requester;
using TsmLab.Spdm.Responder;
using TsmLab.Spdm.Wire;
using TsmLab.Tdisp.Device;
using TsmLab.Tdisp.Wire;

namespace TsmLab.Tests.Spdm;

/// <summary>An algorithm set a test runs: what the requester offers (the responder's key fixes the asymmetric algorithm).</summary>
public sealed record SpdmSuite(string Name, bool P256Key, uint Hash, ushort Dhe, ushort Aead)
{
    public override string ToString() => Name;

    public static readonly SpdmSuite P384Sha384Aes256 = new("P384-SHA384-secp384r1-AES256GCM", false, SpdmAlgorithmBits.HashSha384, SpdmAlgorithmBits.DheSecp384r1, SpdmAlgorithmBits.AeadAes256Gcm);
    public static readonly SpdmSuite P256Sha256Aes128 = new("P256-SHA256-secp256r1-AES128GCM", true, SpdmAlgorithmBits.HashSha256, SpdmAlgorithmBits.DheSecp256r1, SpdmAlgorithmBits.AeadAes128Gcm);
    public static readonly SpdmSuite P384Sha256ChaCha = new("P384-SHA256-secp256r1-ChaCha20Poly1305", false, SpdmAlgorithmBits.HashSha256, SpdmAlgorithmBits.DheSecp256r1, SpdmAlgorithmBits.AeadChaCha20Poly1305);
    public static readonly SpdmSuite P256Sha384ChaCha = new("P256-SHA384-secp384r1-ChaCha20Poly1305", true, SpdmAlgorithmBits.HashSha384, SpdmAlgorithmBits.DheSecp384r1, SpdmAlgorithmBits.AeadChaCha20Poly1305);

    public static readonly SpdmSuite[] All = [P384Sha384Aes256, P256Sha256Aes128, P384Sha256ChaCha, P256Sha384ChaCha];
}

/// <summary>A TDISP device behind an SPDM responder and a DOE mailbox, and a requester that trusts its root.</summary>
internal sealed class SpdmPair : IDisposable
{
    public required DeviceSecurityManager Device { get; init; }
    public required SpdmResponder Responder { get; init; }
    public required DoeMailbox Mailbox { get; init; }
    public required SpdmRequester Requester { get; init; }
    public required X509Certificate2 Root { get; init; }
    public required RecordingMailbox Wire { get; init; }

    public void Dispose() => Requester.Dispose();
}

/// <summary>A mailbox wrapper that records every object both ways and lets a test rewrite the next request.</summary>
internal sealed class RecordingMailbox(TsmLab.Kernel.Pci.IDoeMailbox inner) : TsmLab.Kernel.Pci.IDoeMailbox
{
    public List<(byte[] Request, byte[] Response)> Log { get; } = [];
    public Func<byte[], byte[]>? RewriteRequest { get; set; }
    public Func<byte[], byte[]>? RewriteResponse { get; set; }
    public int MaxResponseSize => inner.MaxResponseSize;

    public int Exchange(ReadOnlySpan<byte> requestObject, Span<byte> responseObject)
    {
        var req = requestObject.ToArray();
        if (RewriteRequest is { } r) { RewriteRequest = null; req = r(req); }
        int n = inner.Exchange(req, responseObject);
        if (RewriteResponse is { } w && n > 0)
        {
            RewriteResponse = null;
            var rewritten = w(responseObject[..n].ToArray());
            rewritten.CopyTo(responseObject);
            n = rewritten.Length;
        }
        Log.Add((req, responseObject[..Math.Max(n, 0)].ToArray()));
        return n;
    }
}

internal static class SpdmTestKit
{
    private static readonly Lazy<(byte[] Root, byte[] Leaf, byte[] LeafKey)> P256Chain = new(MakeP256Chain);

    public static DeviceSecurityManager NewDevice() => new(DeviceConfiguration.Default, new DeterministicEntropySource(7));

    /// <summary>The device's identity: its deterministic P-384 chain, or a P-256 chain made for the tests.</summary>
    public static (SpdmResponderIdentity Identity, X509Certificate2 Root) Identity(DeviceSecurityManager dsm, bool p256)
    {
        if (!p256)
        {
            var id = dsm.Identity;
            return (SpdmResponderIdentity.FromDevice(id, dsm.Configuration), X509CertificateLoader.LoadCertificate(id.RootCertificate.RawData));
        }
        var (root, leaf, key) = P256Chain.Value;
        var ecdsa = ECDsa.Create();
        ecdsa.ImportPkcs8PrivateKey(key, out _);
        var measurements = SpdmResponderIdentity.FromDevice(dsm.Identity, dsm.Configuration).Measurements;
        return (new SpdmResponderIdentity([root, leaf], ecdsa, measurements), X509CertificateLoader.LoadCertificate(root));
    }

    public static SpdmPair Pair(SpdmSuite? suite = null, byte? version = null, SpdmResponderSettings? responderSettings = null,
        Func<SpdmRequesterSettings, SpdmRequesterSettings>? requester = null)
    {
        suite ??= SpdmSuite.P384Sha384Aes256;
        var dsm = NewDevice();
        var (identity, root) = Identity(dsm, suite.P256Key);
        var responder = new SpdmResponder(() => identity, dsm, responderSettings ?? new SpdmResponderSettings { Entropy = new DeterministicEntropySource(9) });
        var mailbox = new DoeMailbox(responder);
        var wire = new RecordingMailbox(mailbox);
        var settings = new SpdmRequesterSettings
        {
            TrustedRoot = root,
            Versions = version is { } v ? [v] : [SpdmVersion.V12, SpdmVersion.V13, SpdmVersion.V14],
            BaseHash = suite.Hash,
            Dhe = suite.Dhe,
            Aead = suite.Aead,
            Entropy = new DeterministicEntropySource(11),
        };
        if (requester is not null) settings = requester(settings);
        return new SpdmPair
        {
            Device = dsm, Responder = responder, Mailbox = mailbox, Root = root, Wire = wire,
            Requester = new SpdmRequester(new MailboxChannel(wire), settings),
        };
    }

    /// <summary>VCA, digests, certificate, challenge, signed measurements, KEY_EXCHANGE and FINISH; returns the session.</summary>
    public static TsmLab.Spdm.Session.SpdmSession Establish(SpdmPair p)
    {
        var r = p.Requester;
        Ok(r.InitConnectionAsync());
        Ok(r.GetDigestsAsync());
        Ok(r.GetCertificateAsync());
        Ok(r.ChallengeAsync(0xFF));
        Ok(r.GetMeasurementsAsync(0xFF, signed: true));
        var (res, session) = r.KeyExchangeAsync(0xFF).AsTask().Result;
        Assert.True(res.Ok, res.ToString());
        Ok(r.FinishAsync(session!));
        return session!;
    }

    public static void Ok(ValueTask<SpdmRequesterResult> t)
    {
        Assert.True(t.IsCompleted);
        var r = t.Result;
        Assert.True(r.Ok, r.ToString());
    }

    public static SpdmRequesterResult Run(ValueTask<SpdmRequesterResult> t)
    {
        Assert.True(t.IsCompleted);
        return t.Result;
    }

    /// <summary>A plain SPDM request in a DOE object to the mailbox; the SPDM response (DOE header stripped).</summary>
    public static (DoeObjectType Type, byte[] Message) Plain(TsmLab.Kernel.Pci.IDoeMailbox mailbox, byte[] spdm)
    {
        var obj = new byte[DoeHeader.ObjectSize(spdm.Length)];
        spdm.CopyTo(obj, DoeHeader.Size);
        DoeHeader.Write(obj, DoeObjectType.Spdm, spdm.Length);
        var rsp = new byte[mailbox.MaxResponseSize];
        int n = mailbox.Exchange(obj, rsp);
        Assert.True(n >= DoeHeader.Size + 4, "no answer");
        Assert.True(DoeHeader.TryRead(rsp, out var h));
        return (h.Type, rsp[DoeHeader.Size..n]);
    }

    public static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));

    private static (byte[], byte[], byte[]) MakeP256Chain()
    {
        using var rootKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var leafKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var from = new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var to = new DateTimeOffset(2049, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var rootReq = new CertificateRequest("CN=TsmLab Test P-256 Root", rootKey, HashAlgorithmName.SHA256);
        rootReq.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        rootReq.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        using var root = rootReq.CreateSelfSigned(from, to);
        var leafReq = new CertificateRequest("CN=TsmLab Test P-256 Device", leafKey, HashAlgorithmName.SHA256);
        leafReq.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        using var leaf = leafReq.Create(root, from, to, [0x05]);
        return (root.RawData, leaf.RawData, leafKey.ExportPkcs8PrivateKey());
    }
}
