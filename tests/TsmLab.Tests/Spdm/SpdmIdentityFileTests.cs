using TsmLab.Spdm.Responder;

namespace TsmLab.Tests.Spdm;

/// <summary>A responder identity loaded from a DER chain and a PEM key, as files hold them.</summary>
public sealed class SpdmIdentityFileTests
{
    [Fact]
    public async Task IdentityFromChainAndPem_AuthenticatesEndToEnd()
    {
        var dsm = SpdmTestKit.NewDevice();
        var (p256, root) = SpdmTestKit.Identity(dsm, p256: true);
        byte[] chain = [.. p256.CertificatesRootFirst.SelectMany(c => c)];
        string pem = p256.LeafKey.ExportPkcs8PrivateKeyPem();
        var loaded = SpdmIdentityFiles.FromContents(chain, pem, p256.Measurements, out var error);
        Assert.True(loaded is not null, error);
        var responder = new SpdmResponder(() => loaded!, dsm);
        using var requester = new TsmLab.Spdm.Requester.SpdmRequester(new TsmLab.Spdm.Requester.MailboxChannel(new TsmLab.Tdisp.Device.DoeMailbox(responder)),
            new TsmLab.Spdm.Requester.SpdmRequesterSettings { TrustedRoot = root });
        Assert.True((await requester.InitConnectionAsync()).Ok);
        Assert.True((await requester.GetCertificateAsync()).Ok);
        Assert.True((await requester.ChallengeAsync()).Ok);
        // SEC1 ("EC PRIVATE KEY") works too.
        Assert.True(SpdmIdentityFiles.FromContents(chain, p256.LeafKey.ExportECPrivateKeyPem(), [], out error) is not null, error);
    }

    [Fact]
    public void BadFiles_GiveOneLineOfError()
    {
        var dsm = SpdmTestKit.NewDevice();
        var (p256, _) = SpdmTestKit.Identity(dsm, p256: true);
        var (p384, _) = SpdmTestKit.Identity(dsm, p256: false);
        byte[] chain = [.. p256.CertificatesRootFirst.SelectMany(c => c)];
        Assert.Null(SpdmIdentityFiles.FromContents(chain[..^3], p256.LeafKey.ExportPkcs8PrivateKeyPem(), [], out var e1));
        Assert.Contains("DER", e1, StringComparison.Ordinal);
        Assert.Null(SpdmIdentityFiles.FromContents(chain, p384.LeafKey.ExportPkcs8PrivateKeyPem(), [], out var e2));
        Assert.Contains("leaf", e2, StringComparison.Ordinal);
        Assert.Null(SpdmIdentityFiles.FromContents(chain, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----", [], out var e3));
        Assert.Contains("private key", e3, StringComparison.Ordinal);
        using var rsa = System.Security.Cryptography.RSA.Create(2048);
        Assert.Null(SpdmIdentityFiles.FromContents(chain, rsa.ExportPkcs8PrivateKeyPem(), [], out var e4));
        Assert.Contains("ECDSA", e4, StringComparison.Ordinal);
    }
}
