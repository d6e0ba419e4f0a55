using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using TsmLab.EmuSocket;
using TsmLab.Spdm.Responder;
using TsmLab.Tests.Cli;

namespace TsmLab.Tests.EmuSocket;

/// <summary><c>tsmlab device serve --cert-chain --private-key</c>: an identity from files, as DMTF's sample keys come.</summary>
public sealed class ServeIdentityTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("tsmlab-identity-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    /// <summary>A root CA and a leaf it signs, on <paramref name="curve"/>: (root DER, chain DER root first, leaf key).</summary>
    private static (byte[] Root, byte[] Chain, ECDsa LeafKey) MakeChain(ECCurve curve)
    {
        using var rootKey = ECDsa.Create(curve);
        var rootReq = new CertificateRequest("CN=Test Root", rootKey, HashAlgorithmName.SHA384);
        rootReq.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        rootReq.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        using var root = rootReq.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(5));
        var leafKey = ECDsa.Create(curve);
        var leafReq = new CertificateRequest("CN=Test Device", leafKey, HashAlgorithmName.SHA384);
        leafReq.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        leafReq.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        using var leaf = leafReq.Create(root, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(4), [1, 2, 3, 4]);
        return (root.RawData, [.. root.RawData, .. leaf.RawData], leafKey);
    }

    [Theory]
    [InlineData("P-384", "pkcs8", "der")]
    [InlineData("P-256", "sec1", "pem")]
    public void ServeWithFiles_ThenConnectTrustingThatRoot_EveryStepSucceeds(string curveName, string keyFormat, string rootFormat)
    {
        var curve = curveName == "P-256" ? ECCurve.NamedCurves.nistP256 : ECCurve.NamedCurves.nistP384;
        var (root, chain, key) = MakeChain(curve);
        string chainPath = Path.Combine(dir, "chain.der"), keyPath = Path.Combine(dir, "key.pem"), rootPath = Path.Combine(dir, "root." + rootFormat);
        File.WriteAllBytes(chainPath, chain);
        File.WriteAllText(keyPath, keyFormat == "sec1" ? key.ExportECPrivateKeyPem() : key.ExportPkcs8PrivateKeyPem());
        if (rootFormat == "der") File.WriteAllBytes(rootPath, root);
        else File.WriteAllText(rootPath, X509CertificateLoader.LoadCertificate(root).ExportCertificatePem());

        var output = new SignalWriter("listening on 127.0.0.1:");
        var error = new StringWriter();
        int rc = -1;
        var t = new Thread(() => rc = TsmLab.Cli.Program.Run(["device", "serve", "--port", "0", "--cert-chain", chainPath, "--private-key", keyPath], TextReader.Null, output, error)) { IsBackground = true };
        t.Start();
        Assert.True(output.Seen.Wait(Timing.Bound), "no listening line: " + error);
        string port = output.Line!.Split(':')[^1].Trim();
        var (crc, o, e) = CliRunner.Run("", "device", "connect", port, "--root-cert", rootPath);
        Assert.True(crc == 0, o + e);
        Assert.Contains("verified to CN=Test Root", o);
        Assert.True(t.Join(Timing.Bound));
        Assert.True(rc == 0, error.ToString());
    }

    [Fact]
    public void TheDefaultRoot_DoesNotTrustAFileIdentity_CertificateFails()
    {
        var (_, chain, key) = MakeChain(ECCurve.NamedCurves.nistP384);
        var identity = new SpdmResponderIdentity(SpdmIdentityFiles.ReadChain(chain, out _)!, key, []);
        using var s = Server.Start(device: () => new TsmLab.Tdisp.Device.TdispPciDevice(TsmLab.Tdisp.Device.DeviceSecurityManager.CreateDefault(), new SpdmResponderSettings(), () => identity));
        var steps = DeviceConnectFlow.Run(new DeviceConnectOptions { Host = "127.0.0.1", Port = s.Port, RootCertificate = new TsmLab.Tdisp.Device.DeviceIdentity(TsmLab.Tdisp.Device.DeviceConfiguration.Default).RootCertificate });
        Assert.Equal("CERTIFICATE", Assert.Single(steps, x => x.Status == ConnectStepStatus.Failed).Name);
    }

    [Fact]
    public void BadIdentityFiles_AreUsageErrors_NamingTheFile()
    {
        var (_, chain, key) = MakeChain(ECCurve.NamedCurves.nistP384);
        var (_, _, otherKey) = MakeChain(ECCurve.NamedCurves.nistP384);
        string chainPath = Path.Combine(dir, "chain.der"), keyPath = Path.Combine(dir, "key.pem"), wrongKey = Path.Combine(dir, "wrong.pem"),
            garbage = Path.Combine(dir, "garbage.der"), rsa = Path.Combine(dir, "rsa.pem");
        File.WriteAllBytes(chainPath, chain);
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(wrongKey, otherKey.ExportPkcs8PrivateKeyPem());
        File.WriteAllBytes(garbage, [0x30, 0x82, 0xFF, 0xFF, 1, 2, 3]);
        using (var r = RSA.Create(2048)) File.WriteAllText(rsa, r.ExportPkcs8PrivateKeyPem());

        Check(["--cert-chain", chainPath], "--cert-chain and --private-key go together");
        Check(["--cert-chain", chainPath, "--private-key", wrongKey], "does not belong to the chain's leaf certificate (CN=Test Device)");
        Check(["--cert-chain", garbage, "--private-key", keyPath], "are not a DER SEQUENCE");
        Check(["--cert-chain", chainPath, "--private-key", rsa], "not a PEM ECDSA private key");
        Check(["--cert-chain", Path.Combine(dir, "missing.der"), "--private-key", keyPath], "cannot read certificate chain");
        Check(["--psk", "0011223"], "is not 1 to 64 bytes of hex");
        Check(["--psk", "00", "--psk-hint", "0x54657374507"], "starts with 0x but is not hex");
        Check(["--psk", "00", "--psk-hint", "a hint longer than sixteen bytes"], "at most 16");

        static void Check(string[] args, string message)
        {
            var (rc, _, e) = CliRunner.Run("", ["device", "serve", "--port", "0", .. args]);
            Assert.Equal(2, rc);
            Assert.Contains(message, e);
            Assert.Single(e.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        }
    }

    [Fact]
    public void ReadChain_SplitsConcatenatedDer_AndRefusesWhatIsNot()
    {
        var (root, chain, _) = MakeChain(ECCurve.NamedCurves.nistP256);
        var certs = SpdmIdentityFiles.ReadChain(chain, out _);
        Assert.NotNull(certs);
        Assert.Equal(2, certs.Count);
        Assert.Equal(root, certs[0]);
        Assert.Null(SpdmIdentityFiles.ReadChain([], out string p1));
        Assert.Equal("no certificate", p1);
        Assert.Null(SpdmIdentityFiles.ReadChain([.. chain, 0x30], out string p2));
        Assert.Contains($"offset {chain.Length}", p2);
        Assert.Null(SpdmIdentityFiles.ReadChain([0x30, 0x03, 1, 2, 3], out string p3));
        Assert.Contains("not an X.509 certificate", p3);
    }
}
