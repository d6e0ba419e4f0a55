using TsmLab.Spdm.Requester;
using TsmLab.Tdisp.Device;
using TsmLab.Tracing;

namespace TsmLab.Tests.Tracing;

public class SpdmTraceTests
{
    [Fact]
    public async Task DeviceTrace_RecordsSpdmExchangesByName_AndAClearVendorDefinedIsRefused()
    {
        var device = TdispPciDevice.CreateDefault(new DeterministicEntropySource(1));
        var log = new TraceLog();
        device.AttachTrace(log, "lab");
        using var r = new SpdmRequester(new MailboxChannel(device.Mailbox), new SpdmRequesterSettings { TrustedRoot = device.Dsm.Identity.RootCertificate });
        Assert.True((await r.InitConnectionAsync()).Ok);
        Assert.True((await r.GetCertificateAsync()).Ok);
        var (res, session) = await r.KeyExchangeAsync();
        Assert.True(res.Ok, res.ToString());
        Assert.True((await r.FinishAsync(session!)).Ok);
        Assert.True((await r.HeartbeatAsync(session!)).Ok);

        var spdm = log.Events.Where(e => e.Fields.Contains(new TraceField("protocol", "SPDM"))).Select(e => $"{e.Name} -> {e.Result}").ToList();
        Assert.Equal(["GET_VERSION -> VERSION", "GET_CAPABILITIES -> CAPABILITIES", "NEGOTIATE_ALGORITHMS -> ALGORITHMS",
            "GET_CERTIFICATE -> CERTIFICATE", "KEY_EXCHANGE -> KEY_EXCHANGE_RSP", "FINISH -> FINISH_RSP", "HEARTBEAT -> HEARTBEAT_ACK"], spdm);
        Assert.Contains(log.Events, e => e.Name == "HEARTBEAT" && e.Fields.Contains(new TraceField("session_id", $"0x{session!.SessionId:x8}")));
        // TDISP outside a session is refused with an SPDM ERROR (TDISP runs only inside a secure session), and traced as SPDM.
        int before = log.Events.Count;
        var clear = new TsmLab.Tdisp.Requester.DoeTransport(device.Mailbox);
        var v = new TsmLab.Tdisp.Requester.TdispRequester(clear).GetVersion(TsmLab.Tdisp.Wire.TdiFunctionId.FromRid(0x0100));
        Assert.False(v.IsSuccess);
        Assert.Equal(TsmLab.Spdm.Wire.SpdmCode.Error, clear.LastSpdmCode);
        Assert.Contains(log.Events.Skip(before), e => e.Fields.Contains(new TraceField("protocol", "SPDM")));
    }
}
