using System.Buffers.Binary;
using TsmLab.Platforms.Cca.Abi;

namespace TsmLab.Platforms.Cca.Firmware;

/// <summary>What became of a realm's RSI call.</summary>
public enum RsiOutcome
{
    /// <summary>The RMM answered; the results are in the guest's registers.</summary>
    Completed,
    /// <summary>The REC exited to the host (the run page says why); REC_ENTER resumes the call.</summary>
    ExitedToHost,
}

/// <summary>
/// The RSI side: VDEV_GET_INFO (digests and nonces of the cached evidence), VALIDATE_MAPPING
/// (exits to the host as RMI_EXIT_VDEV_VALIDATE_MAPPING, completed after RTT_DEV_VALIDATE),
/// DMA_ENABLE / DMA_DISABLE, and HOST_CALL (exits as RMI_EXIT_HOST_CALL with the guest's gprs)
/// [A3,A7,R2]. REC_ENTER completes a call that exited.
/// </summary>
public sealed partial class CcaRmm
{
    /// <summary>
    /// A realm executes SMC with <paramref name="regs"/> (x0 = FID, x1..x8 arguments) on the REC at
    /// <paramref name="recPa"/>, while running from a REC_ENTER whose run page is <paramref name="runPa"/>.
    /// On <see cref="RsiOutcome.Completed"/> the results are in <paramref name="regs"/>; on
    /// <see cref="RsiOutcome.ExitedToHost"/> the caller (KVM) handles the exit and calls REC_ENTER,
    /// then <see cref="ResumeRealm"/> gives the results.
    /// </summary>
    public RsiOutcome Rsi(ulong recPa, ulong runPa, Span<ulong> regs)
    {
        lock (gate) return RsiLocked(recPa, runPa, regs);
    }

    private RsiOutcome RsiLocked(ulong recPa, ulong runPa, Span<ulong> regs)
    {
        var log = trace;
        if (log is null) return RsiCall(recPa, runPa, regs);
        long seq = log.Reserve();
        ulong fid = regs[0], x1 = regs.Length > 1 ? regs[1] : 0;
        var outcome = RsiCall(recPa, runPa, regs);
        log.Record(seq, Tracing.TraceLayer.Guest, Tracing.TraceLayer.Firmware, Tracing.TraceKind.FirmwareCall, Abi.CcaCalls.NameOf(fid),
            outcome == RsiOutcome.ExitedToHost ? "exit to host" : $"x0=0x{regs[0]:x}", new("fid", $"0x{fid:x}"), new("x1", $"0x{x1:x}"));
        return outcome;
    }

    private RsiOutcome RsiCall(ulong recPa, ulong runPa, Span<ulong> regs)
    {
        if (!recs.TryGetValue(recPa, out var rec) || rec.Pending is not null || !memory.TryPage(runPa, out var run))
            throw new InvalidOperationException("RSI call outside a running REC (a model wiring error)");
        var realm = rec.Realm;
        ulong fid = regs[0];
        Span<ulong> a = stackalloc ulong[9];
        regs[..9].CopyTo(a);
        regs[1..].Clear();
        foreach (var c in RsiCommands)
            if (c.Fid == fid) return c.Handler(this, rec, realm, run, a, regs);
        regs[0] = Rhi.NotSupported;
        return RsiOutcome.Completed;
    }

    /// <summary>An RSI handler: the calling REC and its realm, the REC's run page, the realm's x0..x8 in <c>a</c>, results into <c>regs</c>.</summary>
    private delegate RsiOutcome RsiHandler(CcaRmm rmm, RmmRec rec, RmmRealm realm, Span<byte> run, ReadOnlySpan<ulong> a, Span<ulong> regs);

    /// <summary>One RSI command the RMM serves: its FID (named in <see cref="Abi.CcaCalls"/>) and handler.</summary>
    private sealed record RsiCommand(ulong Fid, RsiHandler Handler);

    /// <summary>The RSI commands, one row each; any other FID answers NOT_SUPPORTED.</summary>
    private static readonly RsiCommand[] RsiCommands =
    [
        new(Abi.Rsi.HostCall, static (m, rec, realm, run, a, regs) => m.RsiHostCall(rec, realm, run, a, regs)),
        new(Abi.Rsi.VdevGetInfo, static (m, rec, realm, run, a, regs) => m.RsiVdevGetInfo(rec, realm, run, a, regs)),
        new(Abi.Rsi.VdevValidateMapping, static (m, rec, realm, run, a, regs) => m.RsiVdevValidateMapping(rec, realm, run, a, regs)),
        new(Abi.Rsi.VdevDmaEnable, static (m, rec, realm, run, a, regs) => m.RsiVdevDmaEnable(rec, realm, run, a, regs)),
        new(Abi.Rsi.VdevDmaDisable, static (m, rec, realm, run, a, regs) => m.RsiVdevDmaDisable(rec, realm, run, a, regs)),
    ];

    private RsiOutcome RsiHostCall(RmmRec rec, RmmRealm realm, Span<byte> run, ReadOnlySpan<ulong> a, Span<ulong> regs)
    {
        Span<byte> s = stackalloc byte[Abi.Rsi.HostCallSize];
        if (realm.Memory is null || !realm.Memory.Read(a[1], s)) return Done(regs, RsiStatus.ErrorInput);
        var gprs = new ulong[Abi.Rmi.RunGprCount];
        for (int i = 0; i < gprs.Length; i++) gprs[i] = BinaryPrimitives.ReadUInt64LittleEndian(s[(Abi.Rsi.HostCallGprs + 8 * i)..]);
        rec.Pending = new PendingHostCall(a[1], gprs);
        run.Slice(Abi.Rmi.RunExit, Abi.Rmi.Granule - Abi.Rmi.RunExit).Clear();
        Put(run, Abi.Rmi.RunExitReason, Abi.Rmi.ExitHostCall);
        Put(run, Abi.Rmi.RunExitImm, BinaryPrimitives.ReadUInt16LittleEndian(s));
        for (int i = 0; i < gprs.Length; i++) Put(run, Abi.Rmi.RunExitGprs + 8 * i, gprs[i]);
        return RsiOutcome.ExitedToHost;
    }

    private RsiOutcome RsiVdevGetInfo(RmmRec rec, RmmRealm realm, Span<byte> run, ReadOnlySpan<ulong> a, Span<ulong> regs)
    {
        // TF-RMM handle/finish_rsi_vdev_get_info [TR2]: the address first (512-byte aligned, in the
        // PAR), then the vdev_id; the answer comes in every VDEV state.
        ulong addr = a[2];
        if (addr % Abi.Rsi.InfoAlignment != 0 || !RmmRealm.InPar(addr, addr + Abi.Rsi.InfoSize)) return Done(regs, RsiStatus.ErrorInput);
        if (!realm.Vdevs.TryGetValue(a[1], out var v)) return Done(regs, RsiStatus.ErrorInput);
        Span<byte> info = stackalloc byte[Abi.Rsi.InfoSize];
        WriteInfo(v, info);
        return Done(regs, realm.Memory is not null && realm.Memory.Write(a[2], info) ? RsiStatus.Success : RsiStatus.ErrorInput);
    }

    private RsiOutcome RsiVdevValidateMapping(RmmRec rec, RmmRealm realm, Span<byte> run, ReadOnlySpan<ulong> a, Span<ulong> regs)
    {
        // TF-RMM handle/finish_rsi_vdev_validate_mapping [TR2]: range and alignment first (ERROR_INPUT),
        // then the vdev_id, a VDEV neither LOCKED nor STARTED (ERROR_INPUT), stale nonces (ERROR_DEVICE).
        ulong b = a[2], t = a[3], pa = a[4];
        const ulong mask = Abi.Rmi.Granule - 1;
        if (((b | t | pa) & mask) != 0 || t <= b || !RmmRealm.InPar(b, t)) return Done(regs, RsiStatus.ErrorInput);
        if (!realm.Vdevs.TryGetValue(a[1], out var v)) return Done(regs, RsiStatus.ErrorInput);
        if (v.State is not (VdevState.Locked or VdevState.Started)) return Done(regs, RsiStatus.ErrorInput);
        if (!NoncesMatch(v, a[6], a[7], a[8])) return Done(regs, RsiStatus.ErrorDevice);
        // TsmLab: the flags and the PA's place in the VDEV's TEE ranges are checked here (TF-RMM checks
        // the PA against the VDEV's address ranges when the host maps it, RMI_RTT_DEV_MAP).
        if (a[5] > (Abi.Rsi.MappingCoherent | Abi.Rsi.MappingLimitedOrder) || !InTeeRange(v, pa, t - b))
            return Done(regs, RsiStatus.ErrorInput);
        rec.Pending = new PendingValidateMapping(v, b, t, pa);
        run.Slice(Abi.Rmi.RunExit, Abi.Rmi.Granule - Abi.Rmi.RunExit).Clear();
        Put(run, Abi.Rmi.RunExitReason, Options.ValidateMappingExitReason);
        Put(run, Abi.Rmi.RunExitVdevId, v.VdevId);
        Put(run, Abi.Rmi.RunExitDevMemBase, b);
        Put(run, Abi.Rmi.RunExitDevMemTop, t);
        Put(run, Abi.Rmi.RunExitDevMemPa, pa);
        return RsiOutcome.ExitedToHost;
    }

    private RsiOutcome RsiVdevDmaEnable(RmmRec rec, RmmRealm realm, Span<byte> run, ReadOnlySpan<ulong> a, Span<ulong> regs)
    {
        // TF-RMM finish_rsi_vdev_dma_enable [TR2]: a VDEV not STARTED or stale nonces are ERROR_DEVICE;
        // the flags word (x2) is not checked by the pinned revision.
        if (!realm.Vdevs.TryGetValue(a[1], out var v)) return Done(regs, RsiStatus.ErrorInput);
        if (v.State != VdevState.Started || !NoncesMatch(v, a[4], a[5], a[6])) return Done(regs, RsiStatus.ErrorDevice);
        v.DmaEnabled = true;
        return Done(regs, RsiStatus.Success);
    }

    private RsiOutcome RsiVdevDmaDisable(RmmRec rec, RmmRealm realm, Span<byte> run, ReadOnlySpan<ulong> a, Span<ulong> regs)
    {
        if (!realm.Vdevs.TryGetValue(a[1], out var v)) return Done(regs, RsiStatus.ErrorInput);
        v.DmaEnabled = false;
        return Done(regs, RsiStatus.Success);
    }

    /// <summary>After REC_ENTER completed a call that exited: its results (x0..x8) for the realm.</summary>
    public void ResumeRealm(ulong recPa, Span<ulong> regs)
    {
        lock (gate) ResumeRealmLocked(recPa, regs);
    }

    private void ResumeRealmLocked(ulong recPa, Span<ulong> regs)
    {
        if (!recs.TryGetValue(recPa, out var rec)) return;
        rec.Regs.AsSpan(0, Math.Min(regs.Length, rec.Regs.Length)).CopyTo(regs);
    }

    /// <summary>RsiVdevState of an RMI VDEV state (TF-RMM vdev_state_to_rsi [TR2]): NEW and UNLOCKED read as UNLOCKED.</summary>
    internal static RsiVdevState ToRsi(VdevState s) => s switch
    {
        VdevState.New or VdevState.Unlocked => RsiVdevState.Unlocked,
        VdevState.Locked => RsiVdevState.Locked,
        VdevState.Started => RsiVdevState.Started,
        _ => RsiVdevState.Error,
    };

    /// <summary>Whether the realm's recorded evidence generations are the current ones.</summary>
    private static bool NoncesMatch(RmmVdev v, ulong lockNonce, ulong measNonce, ulong reportNonce) =>
        lockNonce == v.LockGeneration && measNonce == v.MeasGeneration && reportNonce == v.ReportGeneration;

    private void WriteInfo(RmmVdev v, Span<byte> info)
    {
        info.Clear();
        var d = v.Pdev;
        Put(info, Abi.Rsi.InfoCertId, 0);
        info[Abi.Rsi.InfoHashAlgo] = d.HashAlgo;
        Put(info, Abi.Rsi.InfoLockNonce, v.LockGeneration);
        Put(info, Abi.Rsi.InfoMeasNonce, v.MeasGeneration);
        Put(info, Abi.Rsi.InfoReportNonce, v.ReportGeneration);
        info[Abi.Rsi.InfoFormatType] = Abi.Rsi.FormatTdisp;
        Put(info, Abi.Rsi.InfoFormatVersion, ((ulong)(uint)(d.TdispVersion >> 4) << 16) | (uint)(d.TdispVersion & 0xF));
        info[Abi.Rsi.InfoState] = (byte)ToRsi(v.State);
        Digest(d.HashAlgo, d.Vca, info.Slice(Abi.Rsi.InfoVcaDigest, Abi.Rsi.DigestSize));
        Digest(d.HashAlgo, d.Certificate, info.Slice(Abi.Rsi.InfoCertDigest, Abi.Rsi.DigestSize));
        Digest(d.HashAlgo, d.PublicKey, info.Slice(Abi.Rsi.InfoPubkeyDigest, Abi.Rsi.DigestSize));
        if (v.Measurements is { } m) Digest(d.HashAlgo, m, info.Slice(Abi.Rsi.InfoMeasDigest, Abi.Rsi.DigestSize));
        if (v.Report is { } r) Digest(d.HashAlgo, r, info.Slice(Abi.Rsi.InfoReportDigest, Abi.Rsi.DigestSize));
    }

    /// <summary>RMI_REC_ENTER(rec, run): completes the REC's pending RSI call from the run page's entry; x1 = 1 when it did.</summary>
    private RmiStatus RecEnter(ulong recPa, ulong runPa, out ulong completed)
    {
        completed = 0;
        if (!recs.TryGetValue(recPa, out var rec) || rec.Pending is null) return RmiStatus.ErrorRec;
        if (!memory.TryPage(runPa, out var run)) return RmiStatus.ErrorInput;
        var regs = rec.Regs;
        Array.Clear(regs);
        switch (rec.Pending)
        {
            case PendingHostCall h:
            {
                Span<byte> gprs = stackalloc byte[Abi.Rmi.RunGprCount * 8];
                run.Slice(Abi.Rmi.RunEntryGprs, gprs.Length).CopyTo(gprs);
                bool ok = rec.Realm.Memory is not null && rec.Realm.Memory.Write(h.StructIpa + Abi.Rsi.HostCallGprs, gprs);
                regs[0] = (ulong)(ok ? RsiStatus.Success : RsiStatus.ErrorInput);
                break;
            }
            case PendingValidateMapping m:
            {
                bool refused = (Get(run, Abi.Rmi.RunEntryFlags) & Abi.Rmi.RecEnterFlagDevMemResponse) != 0;
                bool accepted = !refused && m.Progress > m.Base && m.Vdev.State is VdevState.Locked or VdevState.Started;
                regs[0] = (ulong)RsiStatus.Success;
                regs[1] = accepted ? m.Progress : m.Base;
                regs[2] = accepted ? Abi.Rsi.ResponseAccept : Abi.Rsi.ResponseReject;
                break;
            }
        }
        rec.Pending = null;
        completed = 1;
        return RmiStatus.Success;
    }

    private RsiOutcome Done(Span<ulong> regs, RsiStatus status)
    {
        regs[0] = (ulong)status;
        return RsiOutcome.Completed;
    }

    private static void Put(Span<byte> s, int offset, ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(s[offset..], value);
    private static ulong Get(ReadOnlySpan<byte> s, int offset) => BinaryPrimitives.ReadUInt64LittleEndian(s[offset..]);
}
