using TsmLab.Platforms.Cca.Abi;

namespace TsmLab.Platforms.Cca.Vmm;

/// <summary>
/// The VMM's worker for RHI calls that take long (SET_TDI_STATE, GET_MEASUREMENTS,
/// GET_INTERFACE_REPORT): the call is queued and answered INCOMPLETE with a cookie; the worker
/// runs it after <see cref="Ticks"/> exits of the VMM (each handled hypercall exit is a tick,
/// CONTINUE included, ABORT excepted: the VMM serves an abort before its worker moves on);
/// CONTINUE collects the result. One call per vDevice runs at a time: another long
/// call meanwhile is BUSY, and the guest retries it. ABORT drops a call that has not run
/// (SUCCESS) or reports one that already completed (ABORTED_OPERATION_HAD_COMPLETED).
/// TsmLab definition of the VMM side of [A3]'s INCOMPLETE/CONTINUE/BUSY/ABORT.
/// </summary>
public sealed class LongCallWorker(int ticks = 1)
{
    private sealed class Call(ulong vdevId, ulong cookie, Func<RhiStatus> run, int ticks)
    {
        public ulong VdevId { get; } = vdevId;
        public ulong Cookie { get; } = cookie;
        public Func<RhiStatus> Run { get; } = run;
        public int TicksLeft { get; set; } = ticks;
        public RhiStatus? Result { get; set; }
    }

    private readonly List<Call> calls = new();
    private ulong nextCookie = 1;

    /// <summary>Exits before a queued call runs (at least 1: the call never runs inside its own exit).</summary>
    public int Ticks { get; set; } = Math.Max(1, ticks);

    /// <summary>Runs every queued call whose time has come.</summary>
    public void Tick()
    {
        foreach (var c in calls)
            if (c.Result is null && --c.TicksLeft <= 0) c.Result = c.Run();
    }

    /// <summary>Queues a call: INCOMPLETE with its cookie, or BUSY while another call for the vDevice has not run.</summary>
    public RhiStatus Submit(ulong vdevId, Func<RhiStatus> run, out ulong cookie)
    {
        cookie = 0;
        if (calls.Any(c => c.VdevId == vdevId && c.Result is null)) return RhiStatus.Busy;
        cookie = nextCookie++;
        calls.Add(new Call(vdevId, cookie, run, Ticks));
        return RhiStatus.Incomplete;
    }

    /// <summary>CONTINUE: the result when the call ran, INCOMPLETE while it has not, INPUT for a cookie that names no call of this vDevice.</summary>
    public RhiStatus Continue(ulong vdevId, ulong cookie)
    {
        var c = calls.FirstOrDefault(x => x.VdevId == vdevId && x.Cookie == cookie);
        if (c is null) return RhiStatus.Input;
        if (c.Result is not { } r) return RhiStatus.Incomplete;
        calls.Remove(c);
        return r;
    }

    /// <summary>ABORT: SUCCESS when a call that had not run is dropped, ABORTED_OPERATION_HAD_COMPLETED when it had, INPUT when none.</summary>
    public RhiStatus Abort(ulong vdevId)
    {
        var c = calls.LastOrDefault(x => x.VdevId == vdevId);
        if (c is null) return RhiStatus.Input;
        calls.Remove(c);
        return c.Result is null ? RhiStatus.Success : RhiStatus.AbortedOperationHadCompleted;
    }
}
