using TsmLab.Tdisp.Wire;
using TsmLab.Tracing;
using static TsmLab.Tests.Tdisp.TdispTestKit;

namespace TsmLab.Tests.Tdisp;

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
