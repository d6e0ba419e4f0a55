using TsmLab.Tdisp.Device;
using TsmLab.Tdisp.Requester;
using TsmLab.Tdisp.Wire;
using static TsmLab.Tests.Tdisp.TdispTestKit;

namespace TsmLab.Tests.Tdisp;

/// <summary>
/// The requester against the device over the direct and DOE transports (classic and SPDM 1.4 large
/// framing), IDE_KM paths, identity, configuration parsing, and the hot path's allocations.
/// </summary>
public class TdispEndToEndTests
{
    public static TheoryData<string> Transports() => ["direct", "doe-classic", "doe-large"];

    private static TdispRequester Over(DeviceSecurityManager dsm, string transport) => new(transport switch
    {
        "direct" => new DirectTransport(dsm),
        "doe-classic" => new DoeTransport(DoeMailbox.For(dsm)),
        _ => new DoeTransport(DoeMailbox.For(dsm), SpdmVendorDefinedMessage.SpdmVersion14, largePayload: true),
    });

    [Theory]
    [MemberData(nameof(Transports))]
    public void FullAssignmentFlow_OverEachTransport(string transport)
    {
        var dsm = NewDevice(DeviceConfiguration.Default with { Tdisp = DeviceConfiguration.Default.Tdisp with { MaxReportPortion = 24 } });
        var req = Over(dsm, transport);
        Assert.Equal([0x10], req.GetVersion(Vf0).Value);
        var caps = req.GetCapabilities(Vf0).Value;
        Assert.Equal(LockInterfaceFlags.NoFwUpdate | LockInterfaceFlags.SystemCacheLineSize128 | LockInterfaceFlags.LockMsix | LockInterfaceFlags.BindP2p | LockInterfaceFlags.AllRequestRedirect, caps.LockFlagsSupported);
        Assert.Equal(52, caps.DeviceAddressWidth);
        var noKeys = req.LockInterface(Vf0, new LockInterfaceParameters(LockInterfaceFlags.LockMsix, 1, 0));
        Assert.Equal(TdispOutcome.DeviceError, noKeys.Outcome);
        Assert.Equal(TdispErrorCode.InvalidRequest, noKeys.Error);
        Assert.True(req.ProgramAndStartStream(1, 0, 0, KeyMaterial));
        var nonce = req.LockInterface(Vf0, new LockInterfaceParameters(LockInterfaceFlags.LockMsix, 1, 0x1000_0000));
        Assert.True(nonce.IsSuccess);
        Assert.Equal(TdiState.ConfigLocked, req.GetState(Vf0).Value);
        var report = req.GetInterfaceReport(Vf0, 16); // 5+ round trips: 16-byte requests, 24-byte device maximum
        Assert.True(report.IsSuccess, report.ToString());
        Assert.Equal(dsm.FindInterface(Vf0)!.Report.ToArray(), report.Value!.Bytes);
        Assert.Equal(4, report.Value.Ranges.Count);
        Assert.Equal(new MmioRange(0x1_0100_0000, 1, MmioRangeAttributes.MsixTable, 0), report.Value.Ranges[0]);
        Assert.Equal(7, report.Value.Fields.MsixMessageControl);
        var bad = req.StartInterface(Vf0, new byte[32]);
        Assert.Equal(TdispErrorCode.InvalidNonce, bad.Error);
        Assert.True(req.StartInterface(Vf0, nonce.Value).IsSuccess);
        Assert.Equal(TdiState.Run, req.GetState(Vf0).Value);
        Assert.Equal(TdispErrorCode.InvalidInterfaceState, req.StartInterface(Vf0, nonce.Value).Error);
        Assert.True(req.StopInterface(Vf0).IsSuccess);
        Assert.Equal(TdiState.ConfigUnlocked, req.GetState(Vf0).Value);
    }

    [Fact]
    public void Requester_ReassemblesReportsWhateverThePortionSize()
    {
        var dsm = NewDevice(DeviceConfiguration.Default with { Tdisp = DeviceConfiguration.Default.Tdisp with { MaxReportPortion = 7 } });
        DriveTo(dsm, TdiState.Run);
        var req = Requester(dsm);
        foreach (ushort portion in new ushort[] { 1, 3, 7, 50, 106, 107, 0xFFFF })
        {
            var r = req.GetInterfaceReport(Pf, portion);
            Assert.True(r.IsSuccess);
            Assert.Equal(dsm.Interfaces[0].Report.ToArray(), r.Value!.Bytes);
        }
        Assert.Equal(TdispErrorCode.InvalidRequest, req.GetInterfaceReport(Pf, 0).Error);
        Assert.Equal(TdispErrorCode.InvalidInterfaceState, req.GetInterfaceReport(Vf0).Error);
    }

    private sealed class LyingTransport(ITdispTransport inner, Func<byte[], byte[]> mutate) : ITdispTransport
    {
        public int Exchange(ReadOnlySpan<byte> request, Span<byte> response)
        {
            var buf = new byte[70000];
            int n = inner.Exchange(request, buf);
            var m = mutate(buf[..n]);
            m.CopyTo(response);
            return m.Length;
        }
    }

    [Fact]
    public void Requester_ReportsMalformedAnswers_AsValues()
    {
        var dsm = NewDevice();
        DriveTo(dsm, TdiState.ConfigLocked);
        // A device whose remainder does not add up.
        int calls = 0;
        var lying = new TdispRequester(new LyingTransport(new DirectTransport(dsm), b => { if (b[2] == 0x04 && calls++ == 1) b[19]++; return b; }));
        Assert.Equal(TdispOutcome.MalformedResponse, lying.GetInterfaceReport(Pf, 10).Outcome);
        // A response naming another function.
        var wrongId = new TdispRequester(new LyingTransport(new DirectTransport(dsm), b => { b[6] = 0x09; return b; }));
        Assert.Equal(TdispOutcome.MalformedResponse, wrongId.GetState(Pf).Outcome);
        // No answer at all.
        var silent = new TdispRequester(new LyingTransport(new DirectTransport(dsm), _ => []));
        Assert.Equal(TdispOutcome.MalformedResponse, silent.GetVersion(Pf).Outcome);
        Assert.False(silent.KeySetGo(0, default, 0).Answered);
    }

    [Fact]
    public void Requester_P2pMmioVdmAndConfigCalls()
    {
        var dsm = NewDevice();
        DriveTo(dsm, TdiState.Run, flags: 0x000C);
        var req = Requester(dsm);
        Assert.True(req.BindP2pStream(Pf, 3).IsSuccess);
        Assert.True(req.UnbindP2pStream(Pf, 3).IsSuccess);
        Assert.Equal(TdispErrorCode.InvalidRequest, req.UnbindP2pStream(Pf, 3).Error);
        Assert.True(req.SetMmioAttribute(Pf, new MmioRange(0x40_0000_0000, 0x1000, MmioRangeAttributes.IsMemAttrUpdatable | MmioRangeAttributes.IsNonTeeMem, 2)).IsSuccess);
        Assert.Empty(req.SendVdm(Pf, 0, [0x01, 0x00], [1, 2]).Value!);
        Assert.Equal(TdispErrorCode.UnsupportedRequest, req.SetTdispConfig(Pf, 0).Error);
        Assert.Equal(0x8Cu, req.SetTdispConfig(Pf, 0).ErrorData);
    }

    // ---- IDE_KM ----

    [Fact]
    public void IdeKm_Query_AnswersPortLocationAndRegisters()
    {
        var dsm = NewDevice();
        var q = Requester(dsm).QueryIde(0)!;
        Assert.Equal(0x00, q.DevFuncNumber);
        Assert.Equal(0x01, q.BusNumber);
        Assert.Equal(7, q.MaxPortIndex); // as DMTF's reference device, so its requester's port index 1 is served
        Assert.Equal(2 + 4 * 5, q.Registers.Count);
        Assert.Equal(3u, q.Registers[0] >> 16);   // four selective streams
        Assert.NotNull(Requester(dsm).QueryIde(1));
        Assert.Null(Requester(dsm).QueryIde(8));  // no such port
        Assert.Null(SendIde(dsm, Hex("0000")));   // short QUERY
    }

    [Fact]
    public void IdeKm_KeyProg_StoresKeys_AndAcksEveryStatus()
    {
        var dsm = NewDevice();
        var req = Requester(dsm);
        var slot = IdeKeySubStream.Create(1, IdeKeyDirection.Transmit, IdeSubStream.Completion);
        var key = Enumerable.Range(0, 32).Select(i => (byte)(0xA0 + i)).ToArray();
        var ifv = Enumerable.Range(0, 8).Select(i => (byte)i).ToArray();
        var ack = req.ProgramKey(2, slot, 0, key, ifv);
        Assert.Equal(new IdeKmAck(true, IdeKmObjectId.KpAck, KpAckStatus.Success, 2, slot, 0), ack);
        Assert.Equal([.. key, .. ifv], dsm.IdeKeys.GetKeyMaterial(2, slot).ToArray());
        Assert.Equal(KpAckStatus.UnsupportedPortIndex, req.ProgramKey(2, slot, 8, key, ifv).Status);
        Assert.Equal(KpAckStatus.UnsupportedValue, req.ProgramKey(9, slot, 0, key, ifv).Status);
        Assert.Equal(KpAckStatus.UnsupportedValue, req.ProgramKey(2, new IdeKeySubStream(0x30), 0, key, ifv).Status);
        var shortProg = SendIde(dsm, Hex("02 0000 02 00 23 00 0102"))!;
        Assert.Equal("0300000201" + "2300", ToHex(shortProg));
        Assert.Equal(KpAckStatus.IncorrectLength, (KpAckStatus)shortProg[4]);
    }

    [Fact]
    public void IdeKm_GoAndStop_ToggleTheActiveKeySet()
    {
        var dsm = NewDevice();
        var req = Requester(dsm);
        var slot = IdeKeySubStream.Create(1, IdeKeyDirection.Receive, IdeSubStream.PostedRequest);
        Assert.True(req.KeySetGo(0, slot, 0).Answered);          // acked, but nothing programmed: not started
        Assert.Equal(-1, dsm.IdeKeys.ActiveKeySet(0, IdeKeyDirection.Receive, IdeSubStream.PostedRequest));
        req.ProgramKey(0, slot, 0, new byte[32], new byte[8]);
        var ack = req.KeySetGo(0, slot, 0);
        Assert.Equal(IdeKmObjectId.KGoStopAck, ack.ObjectId);
        Assert.Equal(1, dsm.IdeKeys.ActiveKeySet(0, IdeKeyDirection.Receive, IdeSubStream.PostedRequest));
        Assert.True(req.KeySetStop(0, slot, 0).Answered);
        Assert.Equal(-1, dsm.IdeKeys.ActiveKeySet(0, IdeKeyDirection.Receive, IdeSubStream.PostedRequest));
        Assert.False(req.KeySetGo(7, slot, 0).Answered);         // unknown stream: no answer
        Assert.Null(SendIde(dsm, Hex("04 0000 00 00 01")));       // short K_SET_GO
        Assert.Null(SendIde(dsm, Hex("09")));                     // unknown object
        Assert.Null(SendIde(dsm, []));
    }

    [Fact]
    public void DoeTransport_DeviceWithoutAnswer_GetsSpdmError()
    {
        var mailbox = DoeMailbox.For(NewDevice());
        var transport = new DoeTransport(mailbox);
        Assert.Equal(0, transport.Exchange(Hex("0009"), new byte[64]));
        Assert.Equal(0x7F, transport.LastSpdmCode);
        var rsp = new byte[mailbox.MaxResponseSize];
        Assert.Equal(0, mailbox.Exchange(Hex("0100 00 00 02000000"), rsp));            // DISCOVERY: no responder here
        Assert.Equal(0, mailbox.Exchange(Hex("0100 02 00 03000000 00000000"), rsp));   // SECURED_SPDM needs a session layer
        Assert.Equal(12, mailbox.Exchange(Hex("0100 01 00 03000000 12840000"), rsp));  // SPDM GET_VERSION is not ours
        Assert.Equal("0100010003000000127f0100", ToHex(rsp.AsSpan(0, 12)));
    }

    [Fact]
    public void DoeMailbox_FramesTheResponseExactly()
    {
        var mailbox = DoeMailbox.For(NewDevice());
        var req = Hex("0100 01 00 09000000 12fe0000 0300 02 0100 1100 01 1085 0000 00010000 0000000000000000");
        var rsp = new byte[mailbox.MaxResponseSize];
        int n = mailbox.Exchange(req, rsp);
        Assert.Equal("010001000a000000" + "127e0000 0300 02 0100 1200 01 1005 0000 00010000 0000000000000000 00".Replace(" ", "", StringComparison.Ordinal) + "000000", ToHex(rsp.AsSpan(0, n)));
    }

    // ---- identity and configuration ----

    [Fact]
    public void Identity_KeysAreDeterministicFromTheSeed()
    {
        var a = new DeviceIdentity(DeviceConfiguration.Default);
        var b = new DeviceIdentity(DeviceConfiguration.Default);
        Assert.Equal(a.LeafKey.ExportSubjectPublicKeyInfo(), b.LeafKey.ExportSubjectPublicKeyInfo());
        Assert.NotEqual(a.RootKey.ExportSubjectPublicKeyInfo(), a.LeafKey.ExportSubjectPublicKeyInfo());
        var other = new DeviceIdentity(DeviceConfiguration.Default with { Identity = DeviceConfiguration.Default.Identity with { Seed = "other" } });
        Assert.NotEqual(a.LeafKey.ExportSubjectPublicKeyInfo(), other.LeafKey.ExportSubjectPublicKeyInfo());
        Assert.Equal(384, a.LeafKey.KeySize);
        Assert.Equal("02", a.LeafCertificate.SerialNumber);
        Assert.Equal(a.RootCertificate.Subject, a.LeafCertificate.Issuer);
        Assert.True(System.Security.Cryptography.X509Certificates.ECDsaCertificateExtensions.GetECDsaPublicKey(a.LeafCertificate)!.ExportSubjectPublicKeyInfo().AsSpan().SequenceEqual(a.LeafKey.ExportSubjectPublicKeyInfo()));
        using var chain = new System.Security.Cryptography.X509Certificates.X509Chain();
        chain.ChainPolicy.TrustMode = System.Security.Cryptography.X509Certificates.X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(a.RootCertificate);
        chain.ChainPolicy.RevocationMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = new DateTime(2030, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        Assert.True(chain.Build(a.LeafCertificate));
        Assert.Equal(a.MeasurementRecord(), b.MeasurementRecord());
        Assert.Equal(3, a.Measurements.Count);
        Assert.Equal("01013300" + "003000", ToHex(a.Measurements[0].Encode().AsSpan(0, 7)));
        var spdm = a.SpdmCertificateChain();
        Assert.Equal(spdm.Length, BitConverter.ToUInt16(spdm, 0));
    }

    [Fact]
    public void DefaultDevice_IsThePfAt0100WithFourVfs()
    {
        var dsm = NewDevice();
        Assert.Equal([0x0100u, 0x0101u, 0x0102u, 0x0103u, 0x0104u], dsm.Interfaces.Select(t => t.FunctionId.Value).ToArray());
        Assert.False(dsm.Interfaces[0].IsVirtualFunction);
        Assert.Equal(StopInUnlockedPolicy.Succeed, dsm.StopInUnlockedPolicy);
        Assert.True(dsm.RequireIdeKeysForLock);
    }

    [Theory]
    [InlineData("{", "not valid JSON")]
    [InlineData("""{"device":0,"function":0,"vendorId":1,"deviceId":2,"bars":[],"tdisp":{},"ide":{},"identity":{"seed":"s"}}""", "missing field 'bus'")]
    [InlineData("""{"segment":0,"bus":1,"device":0,"function":0,"vendorId":1,"deviceId":2,"bars":[{"index":0,"address":"0x1000","size":"0x3000"}],"tdisp":{},"ide":{},"identity":{"seed":"s"}}""", "power of two")]
    [InlineData("""{"segment":0,"bus":1,"device":40,"function":0,"vendorId":1,"deviceId":2,"bars":[],"tdisp":{},"ide":{},"identity":{"seed":"s"}}""", "device")]
    [InlineData("""{"segment":0,"bus":1,"device":0,"function":0,"vendorId":1,"deviceId":2,"bars":[],"tdisp":{"requestsSupported":["NOPE"]},"ide":{},"identity":{"seed":"s"}}""", "requestsSupported[0]")]
    [InlineData("""{"segment":0,"bus":1,"device":0,"function":0,"vendorId":1,"deviceId":2,"bars":[],"tdisp":{},"ide":{},"identity":{}}""", "identity.seed")]
    [InlineData("""{"segment":0,"bus":1,"device":0,"function":0,"vendorId":1,"deviceId":2,"bars":[{"index":0,"address":0,"size":4096}],"msix":{"tableBar":0,"tableOffset":0,"tableSize":8,"pbaBar":0,"pbaOffset":"0x800"},"tdisp":{},"ide":{},"identity":{"seed":"s"}}""", "share a 4 KiB page")]
    public void BadConfiguration_NamesTheProblem(string json, string expected)
    {
        Check(json, expected);
    }

    [Fact]
    public void ARawMeasurementAboveTheBlockLimit_IsRefused()
    {
        string hex = new('a', 2 * 65533);
        Check($$$"""{"segment":0,"bus":1,"device":0,"function":0,"vendorId":1,"deviceId":2,"bars":[],"tdisp":{},"ide":{},"identity":{"seed":"s","measurements":[{"index":1,"type":6,"raw":"{{{hex}}}"}]}}""",
            "a raw measurement holds at most 65532 bytes (DSP0274's u16 block size), not 65533");
        var d = DeviceConfiguration.Default;
        Assert.Throws<ArgumentException>(() => new TsmLab.Tdisp.Device.DeviceIdentity(d with { Identity = d.Identity with { Measurements = [new MeasurementConfiguration(1, 6, true, new byte[65533])] } }));
    }

    private static void Check(string json, string expected)
    {
        var e = Assert.Throws<DeviceConfigurationException>(() => DeviceConfiguration.FromJson(json));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MinimalConfiguration_TakesTheDocumentedDefaults()
    {
        var cfg = DeviceConfiguration.FromJson("""{"segment":2,"bus":3,"device":1,"function":2,"vendorId":1,"deviceId":2,"bars":[{"index":0,"address":"0x10000","size":"0x10000","is64Bit":false}],"tdisp":{},"ide":{},"identity":{"seed":"s"},"policy":{"stopInUnlocked":"invalidInterfaceState"}}""");
        Assert.Equal(0x030A, cfg.Rid);
        Assert.Equal(1024, cfg.Tdisp.MaxReportPortion);
        Assert.False(new TdispCapabilities(0, cfg.Tdisp.RequestsSupported, 0, 0, 0, 0).Supports(0x8C));
        Assert.Equal([0], cfg.Ide.StreamIds);
        var dsm = NewDevice(cfg);
        Assert.Equal(StopInUnlockedPolicy.RejectInvalidInterfaceState, dsm.StopInUnlockedPolicy);
        Assert.NotNull(dsm.FindInterface(TdiFunctionId.FromRid(0x030A, 2)));
        Assert.Null(dsm.FindInterface(TdiFunctionId.FromRid(0x030A, 3)));
    }

    // ---- hot path ----

    [Fact]
    public void RoundTrip_DoesNotAllocate()
    {
        var dsm = NewDevice();
        DriveTo(dsm, TdiState.Run);
        var state = Hex("01 1085 0000 00010000 0000000000000000");
        var report = Hex("01 1084 0000 00010000 0000000000000000 0000 4000");
        var rsp = new byte[dsm.MaxResponseSize];
        var direct = new DirectTransport(dsm);
        var doe = new DoeTransport(DoeMailbox.For(dsm));
        for (int i = 0; i < 200; i++) // past tiered JIT's call counting, whose promotions may allocate on this thread
        {
            dsm.Respond(state, rsp);
            doe.Exchange(report, rsp);
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            dsm.Respond(state, rsp);
            dsm.Respond(report, rsp);
            direct.Exchange(state, rsp);
            doe.Exchange(report, rsp);
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
