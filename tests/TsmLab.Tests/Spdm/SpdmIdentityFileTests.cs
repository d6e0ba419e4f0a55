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
        Assert.True(SpdmResponderIdentity.TryLoad(chain, pem, p256.Measurements, out var loaded, out var error), error);
        var responder = new SpdmResponder(() => loaded!, dsm);
        using var requester = new TsmLab.Spdm.Requester.SpdmRequester(new TsmLab.Spdm.Requester.MailboxChannel(new TsmLab.Tdisp.Device.DoeMailbox(responder)),
            new TsmLab.Spdm.Requester.SpdmRequesterSettings { TrustedRoot = root });
        Assert.True((await requester.InitConnectionAsync()).Ok);
        Assert.True((await requester.GetCertificateAsync()).Ok);
        Assert.True((await requester.ChallengeAsync()).Ok);
        // SEC1 ("EC PRIVATE KEY") works too.
        Assert.True(SpdmResponderIdentity.TryLoad(chain, p256.LeafKey.ExportECPrivateKeyPem(), [], out _, out error), error);
    }

    [Fact]
    public void BadFiles_GiveOneLineOfError()
    {
        var dsm = SpdmTestKit.NewDevice();
        var (p256, _) = SpdmTestKit.Identity(dsm, p256: true);
        var (p384, _) = SpdmTestKit.Identity(dsm, p256: false);
        byte[] chain = [.. p256.CertificatesRootFirst.SelectMany(c => c)];
        Assert.False(SpdmResponderIdentity.TryLoad(chain[..^3], p256.LeafKey.ExportPkcs8PrivateKeyPem(), [], out _, out var e1));
        Assert.Contains("DER", e1, StringComparison.Ordinal);
        Assert.False(SpdmResponderIdentity.TryLoad(chain, p384.LeafKey.ExportPkcs8PrivateKeyPem(), [], out _, out var e2));
        Assert.Contains("leaf", e2, StringComparison.Ordinal);
        Assert.False(SpdmResponderIdentity.TryLoad(chain, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----", [], out _, out var e3));
        Assert.NotNull(e3);
        using var rsa = System.Security.Cryptography.RSA.Create(2048);
        Assert.False(SpdmResponderIdentity.TryLoad(chain, rsa.ExportPkcs8PrivateKeyPem(), [], out _, out var e4));
        Assert.NotNull(e4);
    }
}
