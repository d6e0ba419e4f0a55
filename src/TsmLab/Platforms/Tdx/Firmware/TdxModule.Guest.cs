using TsmLab.Platforms.Tdx.Abi;
using TsmLab.Tdisp.Wire;
using TsmLab.Tracing;

namespace TsmLab.Platforms.Tdx.Firmware;

/// <summary>
/// The TDCALL leaves a TD uses for TDX Connect: TDG.VM.RD of CONFIG_FLAGS [TX30], and TDG.TDI.RD,
/// TDG.MMIO.ACCEPT, TDG.TDI.START, TDG.DMAR.ACCEPT with the Gen-2 register ABI [TX17,TX18] (R10–R15
/// must be 0). Gen-2 numbers are not public: Gen-1 numbers where a Gen-1 leaf does the job
/// [TX12], TsmLab's for TDG.TDI.START. Every leaf checks that the TDI is bound to the calling TD.
/// TDG.VP.VMCALL (leaf 0) never reaches here: the vCPU exits to KVM for it.
/// </summary>
public sealed partial class TdxModule
{
    /// <summary>
    /// TDCALL from the TD whose TDR is <paramref name="tdr"/>: runs the leaf RAX names; status in
    /// RAX, outputs in the leaf's registers. <paramref name="memory"/> is the TD's memory (output pages).
    /// </summary>
    public void Tdcall(ulong tdr, ref TdxRegisters r, ITdMemory memory)
    {
        ushort leaf = r.Leaf;
        ulong rcx = r.Rcx, rdx = r.Rdx, r8 = r.R8, r9 = r.R9;
        var log = trace;
        long seq = log?.Reserve() ?? 0;
        lock (gate) r.Rax = TdcallDispatch(tdr, ref r, memory);
        Count(TdxCallKind.Tdcall, leaf);
        log?.Record(seq, TraceLayer.Guest, TraceLayer.Firmware, TraceKind.FirmwareCall, $"TDCALL {TdxLeaves.NameOf(TdxCallKind.Tdcall, leaf)}", TdxStatus.NameOf(r.Rax),
            new("leaf", leaf.ToString(System.Globalization.CultureInfo.InvariantCulture)), new("rcx", $"0x{rcx:x}"), new("rdx", $"0x{rdx:x}"),
            new("r8", $"0x{r8:x}"), new("r9", $"0x{r9:x}"), new("out_rcx", $"0x{r.Rcx:x}"));
    }

    private delegate ulong TdcallHandler(TdxModule m, TdxTd td, ref TdxRegisters r, ITdMemory memory);

    /// <summary>One TDCALL leaf: number, whether R10–R15 must be zero (the TDI leaves [TX18]), handler.</summary>
    private sealed record TdcallRow(ushort Leaf, bool HighRegistersZero, TdcallHandler Handler);

    /// <summary>The TDCALL table (an unknown leaf is TDX_OPERAND_INVALID).</summary>
    private static readonly TdcallRow[] TdcallRows =
    [
        new(TdxLeaves.VmRead, false, static (TdxModule m, TdxTd td, ref TdxRegisters r, ITdMemory _) => VmRead(td, ref r)),
        new(TdxLeaves.TdiRead, true, static (TdxModule m, TdxTd td, ref TdxRegisters r, ITdMemory mem) => m.TdiRead(td, ref r, mem)),
        new(TdxLeaves.MmioAccept, true, static (TdxModule m, TdxTd td, ref TdxRegisters r, ITdMemory _) => m.MmioAccept(td, ref r)),
        new(TdxLeaves.TdiStartGuest, true, static (TdxModule m, TdxTd td, ref TdxRegisters r, ITdMemory _) => m.TdiStartGuest(td, ref r)),
        new(TdxLeaves.DmarAccept, true, static (TdxModule m, TdxTd td, ref TdxRegisters r, ITdMemory _) => m.DmarAccept(td, ref r)),
    ];

    private ulong TdcallDispatch(ulong tdr, ref TdxRegisters r, ITdMemory memory)
    {
        if (r.HasReservedRaxBits || r.Version != 0) return TdxStatus.OperandInvalid;
        if (Td(tdr) is not { } td) return TdxStatus.NonRecoverableTd;
        foreach (var row in TdcallRows)
        {
            if (row.Leaf != r.Leaf) continue;
            if (row.HighRegistersZero && (r.R10 | r.R11 | r.R12 | r.R13 | r.R14 | r.R15) != 0) return TdxStatus.OperandInvalid;
            return row.Handler(this, td, ref r, memory);
        }
        return TdxStatus.OperandInvalid;
    }

    /// <summary>TDG.VM.RD: RDX = field id; out R8 = value [TX30]. Only TDCS CONFIG_FLAGS is readable in the model.</summary>
    private static ulong VmRead(TdxTd td, ref TdxRegisters r)
    {
        if (r.Rdx != TdcsField.ConfigFlags) return TdxStatus.MetadataFieldNotReadable;
        r.R8 = td.ConfigFlags;
        return TdxStatus.Success;
    }

    /// <summary>
    /// TDG.TDI.RD: RCX = func_id, RDX = field, R8 = GPA of a 4 KiB output page for the hash fields
    /// (else 0); out RCX = the value, or 48 for a hash [TX17,TX18]. Only while the TDI is bound to
    /// this TD (TDX_DEVIF_INVALID stands for TDI_NOT_PRESENT, whose number is not public).
    /// </summary>
    private ulong TdiRead(TdxTd td, ref TdxRegisters r, ITdMemory memory)
    {
        if (FindDevif((uint)r.Rcx, td.Tdr) is not { } d) return TdxStatus.DevifInvalid;
        switch (r.Rdx)
        {
            case TdiReadField.TdispState:
                if (r.R8 != 0) return TdxStatus.OperandInvalid;
                r.Rcx = (ulong)d.State;
                return TdxStatus.Success;
            case TdiReadField.BindSessionId:
                if (r.R8 != 0) return TdxStatus.OperandInvalid;
                r.Rcx = d.BindSessionId;
                return TdxStatus.Success;
            case TdiReadField.ReportHash:
            case TdiReadField.DeviceAttestationInfoHash:
                if ((r.R8 & 0xFFF) != 0) return TdxStatus.OperandInvalid;
                var hash = r.Rdx == TdiReadField.ReportHash ? d.ReportHash : System.Security.Cryptography.SHA384.HashData(d.Spdm.DevInfo);
                if (!memory.Write(r.R8, hash)) return TdxStatus.OperandInvalid;
                r.Rcx = TdiReadField.HashLength;
                return TdxStatus.Success;
            default:
                return TdxStatus.OperandInvalid;
        }
    }

    /// <summary>
    /// TDG.MMIO.ACCEPT: RCX = GPA | level (4K = 0), RDX = MMIO range index in the TDI report, R8 =
    /// func_id, R9 = (page offset &lt;&lt; 32) | page count [TX18]. Each page must be mapped (TDH.MMIO.MAP)
    /// at the host address the report gives for that offset of that range; the range must be a TEE
    /// range. Each batch is checked whole before it is accepted. Interruptible: after <see cref="TdxModuleOptions.MmioAcceptBatch"/> pages it returns
    /// TDX_INTERRUPTED_RESUMABLE with RCX and R9 advanced to the remaining range.
    /// </summary>
    private ulong MmioAccept(TdxTd td, ref TdxRegisters r)
    {
        if ((r.Rcx & 0xFFF) != 0) return TdxStatus.OperandInvalid | TdxStatus.OperandRcx;
        if (FindDevif((uint)r.R8, td.Tdr) is not { } d) return TdxStatus.DevifInvalid;
        if (d.State != TdiState.ConfigLocked) return TdxStatus.DevifTdispInvalidState;
        if (r.Rdx >= (ulong)d.Ranges.Length) return TdxStatus.OperandInvalid;
        var range = d.Ranges[(int)r.Rdx];
        if ((range.Attributes & MmioRangeAttributes.IsNonTeeMem) != 0) return TdxStatus.OperandInvalid;
        ulong offset = r.R9 >> 32, count = (uint)r.R9, gpa = r.Rcx;
        if (count == 0 || offset + count > range.NumberOfPages) return TdxStatus.MmioAcceptSizeMismatch;
        // Each batch is checked whole before any page of it is accepted.
        ulong done = Math.Min(count, (ulong)Math.Max(1, Options.MmioAcceptBatch));
        for (ulong i = 0; i < done; i++)
        {
            if (!privateMmio.TryGetValue((td.Tdr, gpa + i * 4096), out var m) || m.Blocked) return TdxStatus.EptWalkFailed;
            if (m.Devif != d || m.Pa != range.FirstPage + (offset + i) * 4096) return TdxStatus.OperandInvalid;
        }
        bool already = true;
        for (ulong i = 0; i < done; i++)
        {
            var m = privateMmio[(td.Tdr, gpa + i * 4096)];
            already &= m.Accepted;
            m.Accepted = true;
        }
        if (done < count)
        {
            r.Rcx = gpa + done * 4096;
            r.R9 = ((offset + done) << 32) | (count - done);
            return TdxStatus.InterruptedResumable;
        }
        r.R9 = 0;
        return already ? TdxStatus.MmioPageAlreadyAccepted : TdxStatus.Success;
    }

    /// <summary>TDG.TDI.START: RCX = func_id, RDX = the bind session id the TD expects [TX18]. Records the TD's consent; TDH.TDI.START then moves the TDI to RUN.</summary>
    private ulong TdiStartGuest(TdxTd td, ref TdxRegisters r)
    {
        if (FindDevif((uint)r.Rcx, td.Tdr) is not { } d) return TdxStatus.DevifInvalid;
        if (d.State != TdiState.ConfigLocked) return TdxStatus.DevifTdispInvalidState;
        if (r.Rdx != d.BindSessionId) return TdxStatus.OperandInvalid;
        d.StartRequested = true;
        return TdxStatus.Success;
    }

    /// <summary>TDG.DMAR.ACCEPT: RCX = func_id, RDX = target (0: the TD itself; 1–3 L2 VMs, not modelled) [TX18]. Marks the TDI's trusted-DMA entry present; the TDI must be in RUN.</summary>
    private ulong DmarAccept(TdxTd td, ref TdxRegisters r)
    {
        if (FindDevif((uint)r.Rcx, td.Tdr) is not { } d) return TdxStatus.DevifInvalid;
        if (r.Rdx != 0) return TdxStatus.OperandInvalid;
        if (dmar.FirstOrDefault(e => e.Devif == d) is not { } entry) return TdxStatus.DevifInvalid;
        if (d.State != TdiState.Run) return TdxStatus.DevifTdispInvalidState;
        entry.Present = true;
        return TdxStatus.Success;
    }
}
