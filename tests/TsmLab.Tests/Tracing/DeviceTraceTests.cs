using TsmLab.Tdisp.Wire;
using TsmLab.Tracing;
using static TsmLab.Tests.Tdisp.TdispTestKit;


namespace TsmLab.Tests.Tracing;

public class DeviceTraceTests
{
    [Fact]
    public void Attach_RecordsDecodedExchangesAndStateChanges_WithoutKeyMaterial()
    {
        var dsm = NewDevice();
        int earlier = 0;
        dsm.StateChanged = _ => earlier++;
        var log = new TraceLog();
        DeviceTrace.Attach(dsm, log);
        DriveTo(dsm, TdiState.Run);
        Send(dsm, LockMessage());

        Assert.Equal(2, earlier); // the listener that was there keeps running
        Assert.Contains(log.Events, e => e.Kind == TraceKind.DeviceMessage && e.Name == "IDE_KM KeyProg" && e.Result == "KpAck");
        Assert.DoesNotContain(log.Events, e => e.Fields.Any(f => f.Value.Contains(ToHex(KeyMaterial(IdeKeySubStream.Create(0, IdeKeyDirection.Receive, IdeSubStream.PostedRequest))[..8]))));
        var start = log.Events.Single(e => e.Name == "StartInterface");
        Assert.Equal("StartInterface", start.Result);
        Assert.Contains(new TraceField("state_before", "ConfigLocked"), start.Fields);
        Assert.Contains(new TraceField("state_after", "Run"), start.Fields);
        var changes = log.Events.Where(e => e.Kind == TraceKind.StateChange).Select(e => e.Result).ToList();
        Assert.Equal(["ConfigUnlocked -> ConfigLocked", "ConfigLocked -> Run"], changes);
        var refused = log.Events.Last();
        Assert.Equal("LockInterface", refused.Name);
        Assert.Equal("TDISP_ERROR InvalidInterfaceState", refused.Result);
        Assert.Equal(Enumerable.Range(1, log.Events.Count).Select(i => (long)i), log.Events.Select(e => e.Seq));
    }
}

public class DeterministicIdentityTests
{
    private static bool LeafVerifiesUnderRoot(TsmLab.Tdisp.Device.DeviceIdentity id)
    {
        using var root = System.Security.Cryptography.X509Certificates.ECDsaCertificateExtensions.GetECDsaPublicKey(id.RootCertificate)!;
        var reader = new System.Formats.Asn1.AsnReader(id.LeafCertificate.RawData, System.Formats.Asn1.AsnEncodingRules.DER).ReadSequence();
        var tbs = reader.ReadEncodedValue().ToArray();
        reader.ReadSequence();
        var sig = reader.ReadBitString(out _);
        bool ok = root.VerifyData(tbs, sig, System.Security.Cryptography.HashAlgorithmName.SHA384, System.Security.Cryptography.DSASignatureFormat.Rfc3279DerSequence);
        tbs[^1] ^= 1;
        return ok && !root.VerifyData(tbs, sig, System.Security.Cryptography.HashAlgorithmName.SHA384, System.Security.Cryptography.DSASignatureFormat.Rfc3279DerSequence);
    }

    [Fact]
    public void DefaultChain_IsTheIssuedOne_ByteForByte_AndVerifies()
    {
        var a = new TsmLab.Tdisp.Device.DeviceIdentity(TsmLab.Tdisp.Device.DeviceConfiguration.Default);
        var b = new TsmLab.Tdisp.Device.DeviceIdentity(TsmLab.Tdisp.Device.DeviceConfiguration.Default);
        Assert.Equal(a.SpdmCertificateChain(), b.SpdmCertificateChain());
        // The same bytes in every run: the chain the default device's vendor issued (DefaultDeviceChain.der).
        Assert.Equal("4BF13149B23E3E0D205B500960EA8E51166E4A06953ED4022793559E04D6731D",
            Convert.ToHexString(System.Security.Cryptography.SHA256.HashData([.. a.CertificateChainDer[0], .. a.CertificateChainDer[1]])));
        // Its keys are the ones the seed derives, and the leaf's signature verifies under the root key.
        Assert.Equal(a.RootKey.ExportSubjectPublicKeyInfo(), a.RootCertificate.PublicKey.ExportSubjectPublicKeyInfo());
        Assert.Equal(a.LeafKey.ExportSubjectPublicKeyInfo(), a.LeafCertificate.PublicKey.ExportSubjectPublicKeyInfo());
        Assert.True(LeafVerifiesUnderRoot(a));
    }

    [Fact]
    public void AnotherSeedOrSubject_IsSignedAtFirstUse_WithItsOwnKeys_AndStableWithinTheProcess()
    {
        var d = TsmLab.Tdisp.Device.DeviceConfiguration.Default;
        foreach (var config in new[] { d with { Identity = d.Identity with { Seed = "another vendor" } }, d with { DeviceId = 0x0042 } })
        {
            var a = new TsmLab.Tdisp.Device.DeviceIdentity(config);
            var b = new TsmLab.Tdisp.Device.DeviceIdentity(config);
            Assert.Equal(a.SpdmCertificateChain(), b.SpdmCertificateChain());
            Assert.NotEqual(new TsmLab.Tdisp.Device.DeviceIdentity(d).CertificateChainDer[1], a.CertificateChainDer[1]);
            Assert.Equal(a.LeafKey.ExportSubjectPublicKeyInfo(), a.LeafCertificate.PublicKey.ExportSubjectPublicKeyInfo());
            Assert.Equal(a.LeafSubject.Name, a.LeafCertificate.Subject);
            Assert.True(LeafVerifiesUnderRoot(a));
        }
    }
}
