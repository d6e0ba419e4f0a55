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
    [Fact]
    public void CertificateChain_IsByteStableAcrossInstances_AndVerifies()
    {
        var a = new TsmLab.Tdisp.Device.DeviceIdentity(TsmLab.Tdisp.Device.DeviceConfiguration.Default);
        var b = new TsmLab.Tdisp.Device.DeviceIdentity(TsmLab.Tdisp.Device.DeviceConfiguration.Default);
        Assert.Equal(a.SpdmCertificateChain(), b.SpdmCertificateChain());
        // The leaf's signature verifies under the root key (so the deterministic signer is real ECDSA).
        using var root = System.Security.Cryptography.X509Certificates.ECDsaCertificateExtensions.GetECDsaPublicKey(a.RootCertificate)!;
        var leaf = a.LeafCertificate;
        var reader = new System.Formats.Asn1.AsnReader(leaf.RawData, System.Formats.Asn1.AsnEncodingRules.DER).ReadSequence();
        var tbs = reader.ReadEncodedValue().ToArray();
        reader.ReadSequence();
        var sig = reader.ReadBitString(out _);
        Assert.True(root.VerifyData(tbs, sig, System.Security.Cryptography.HashAlgorithmName.SHA384, System.Security.Cryptography.DSASignatureFormat.Rfc3279DerSequence));
        tbs[^1] ^= 1;
        Assert.False(root.VerifyData(tbs, sig, System.Security.Cryptography.HashAlgorithmName.SHA384, System.Security.Cryptography.DSASignatureFormat.Rfc3279DerSequence));
    }

    [Fact]
    public void DeterministicEcdsa_MatchesRfc6979SignaturesVerifyAndDifferPerMessage()
    {
        var key = TsmLab.Tdisp.Device.DeviceIdentity.DeriveKey("vector", "k");
        var signer = new TsmLab.Tdisp.Device.DeterministicEcdsa(key);
        byte[] h1 = System.Security.Cryptography.SHA384.HashData("sample"u8), h2 = System.Security.Cryptography.SHA384.HashData("test"u8);
        var s1 = signer.SignHashDer(h1);
        Assert.Equal(s1, signer.SignHashDer(h1));
        Assert.NotEqual(s1, signer.SignHashDer(h2));
        Assert.True(key.VerifyHash(h1, s1, System.Security.Cryptography.DSASignatureFormat.Rfc3279DerSequence));
        Assert.False(key.VerifyHash(h2, s1, System.Security.Cryptography.DSASignatureFormat.Rfc3279DerSequence));
    }
}
