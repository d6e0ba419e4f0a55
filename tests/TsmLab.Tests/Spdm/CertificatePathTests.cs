using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using TsmLab.Spdm.Wire;

namespace TsmLab.Tests.Spdm;

/// <summary>The requester's RFC 5280 path validation of a device chain (<c>CertificatePath</c>, docs/spdm.md).</summary>
public sealed class CertificatePathTests
{
    private static readonly DateTime Now = new(2026, 6, 1, 0, 0, 0, DateTimeKind.Utc);
    private static readonly DateTimeOffset From = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero), To = new(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private sealed record Ca(X509Certificate2 Cert, ECDsa Key);

    private static Ca Root(string name = "CN=Root", int? pathLen = null)
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        var req = new CertificateRequest(name, key, HashAlgorithmName.SHA384);
        req.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, pathLen is not null, pathLen ?? 0, true));
        req.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        return new Ca(req.CreateSelfSigned(From, To), key);
    }

    private static Ca Issue(Ca issuer, string name, bool ca = true, X509KeyUsageFlags usage = X509KeyUsageFlags.KeyCertSign, bool basic = true,
        DateTimeOffset? notAfter = null, X509Extension? extra = null, byte serial = 2)
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        var req = new CertificateRequest(name, key, HashAlgorithmName.SHA384);
        if (basic) req.CertificateExtensions.Add(new X509BasicConstraintsExtension(ca, false, 0, true));
        req.CertificateExtensions.Add(new X509KeyUsageExtension(usage, true));
        if (extra is not null) req.CertificateExtensions.Add(extra);
        return new Ca(req.Create(issuer.Cert.SubjectName, X509SignatureGenerator.CreateForECDsa(issuer.Key), From, notAfter ?? To, [serial]), key);
    }

    private static string? Check(Ca anchor, params Ca[] chain) => CertificatePath.Validate([.. chain.Select(c => c.Cert)], anchor.Cert, Now);

    [Fact]
    public void RootLeaf_RootInterLeaf_AndAChainStartingBelowTheRoot_Validate()
    {
        var root = Root();
        var inter = Issue(root, "CN=Inter");
        var leaf = Issue(inter, "CN=Leaf", ca: false, usage: X509KeyUsageFlags.DigitalSignature, serial: 3);
        Assert.Null(Check(root, root, Issue(root, "CN=Leaf", ca: false, usage: X509KeyUsageFlags.DigitalSignature)));
        Assert.Null(Check(root, root, inter, leaf));
        Assert.Null(Check(root, inter, leaf));
    }

    [Fact]
    public void AnotherRoot_OrABrokenSignature_IsRefused()
    {
        var root = Root();
        var leaf = Issue(root, "CN=Leaf", ca: false, usage: X509KeyUsageFlags.DigitalSignature);
        Assert.Contains("does not verify under its issuer's key", Check(Root(), Root(), leaf));
        Assert.Contains("does not verify under its issuer's key", Check(Root("CN=Root"), leaf));
        Assert.Contains("names issuer 'CN=Root', not 'CN=Other'", Check(Root("CN=Other"), leaf));
    }

    [Fact]
    public void AnIssuerThatIsNotACa_OrMayNotSignCertificates_IsRefused()
    {
        var root = Root();
        var notCa = Issue(root, "CN=NotCa", ca: false);
        Assert.Contains("is not a CA", Check(root, root, notCa, Issue(notCa, "CN=Leaf", ca: false, serial: 3)));
        var noBasic = Issue(root, "CN=NoBasic", basic: false);
        Assert.Contains("is not a CA", Check(root, root, noBasic, Issue(noBasic, "CN=Leaf", ca: false, serial: 3)));
        var noSign = Issue(root, "CN=NoSign", usage: X509KeyUsageFlags.DigitalSignature);
        Assert.Contains("lacks keyCertSign", Check(root, root, noSign, Issue(noSign, "CN=Leaf", ca: false, serial: 3)));
    }

    [Fact]
    public void PathLenConstraint_BoundsTheIntermediates()
    {
        var root = Root(pathLen: 0);
        var inter = Issue(root, "CN=Inter");
        var leaf = Issue(inter, "CN=Leaf", ca: false, usage: X509KeyUsageFlags.DigitalSignature, serial: 3);
        Assert.Contains("beyond its issuers' pathLenConstraint", Check(root, root, inter, leaf));
        var one = Root(pathLen: 1);
        var inter1 = Issue(one, "CN=Inter");
        Assert.Null(Check(one, one, inter1, Issue(inter1, "CN=Leaf", ca: false, usage: X509KeyUsageFlags.DigitalSignature, serial: 3)));
    }

    [Fact]
    public void AnExpiredCertificate_OrAnUnknownCriticalExtension_IsRefused()
    {
        var root = Root();
        var old = Issue(root, "CN=Old", ca: false, usage: X509KeyUsageFlags.DigitalSignature, notAfter: new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        Assert.Contains("expired at 2026-01-01", Check(root, root, old));
        var odd = Issue(root, "CN=Odd", ca: false, usage: X509KeyUsageFlags.DigitalSignature, extra: new X509Extension("1.2.3.4.5", [0x05, 0x00], critical: true));
        Assert.Contains("critical extension 1.2.3.4.5", Check(root, root, odd));
        var fine = Issue(root, "CN=Fine", ca: false, usage: X509KeyUsageFlags.DigitalSignature, extra: new X509Extension("1.2.3.4.5", [0x05, 0x00], critical: false));
        Assert.Null(Check(root, root, fine));
    }

    [Fact]
    public void AnRsaRoot_SigningAnEcdsaDevice_Validates()
    {
        using var rsa = RSA.Create(2048);
        var req = new CertificateRequest("CN=RSA Root", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        req.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        var root = req.CreateSelfSigned(From, To);
        var leafKey = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        var leafReq = new CertificateRequest("CN=Leaf", leafKey, HashAlgorithmName.SHA384);
        var leaf = leafReq.Create(root.SubjectName, X509SignatureGenerator.CreateForRSA(rsa, RSASignaturePadding.Pkcs1), From, To, [2]);
        Assert.Null(CertificatePath.Validate([root, leaf], root, Now));
    }

    [Fact]
    public void TheDefaultDeviceChain_Validates_ToItsRoot()
    {
        var id = new TsmLab.Tdisp.Device.DeviceIdentity(TsmLab.Tdisp.Device.DeviceConfiguration.Default);
        Assert.Null(CertificatePath.Validate([id.RootCertificate, id.LeafCertificate], id.RootCertificate, Now));
    }
}
