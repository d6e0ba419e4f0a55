using System.Buffers.Binary;
using System.Security.Cryptography;
using TsmLab.Platforms.Tdx.Abi;
using TsmLab.Platforms.Tdx.Kvm;
using TsmLab.Tdisp.Requester;
using TsmLab.Tdisp.Wire;
using TsmLab.Vmm;

namespace TsmLab.Platforms.Tdx.Guest;

/// <summary>
/// The TD's TDX Connect driver for one assigned function (the tdx-guest devsec ops [TX17] and
/// OpenHCL's TDX Connect flow [TX18]). Lock: TDG.VM.RD(CONFIG_FLAGS) bit 5; TDCM
/// CHECK_TEEIO_SUPP, BIND, GET_TDI_REPORT; TDG.TDI.RD(TDISP_STATE) = CONFIG_LOCKED;
/// TDG.TDI.RD(REPORT_HASH) against SHA-384 of the delivered report; the device info checked the
/// same way and its chain and signed measurements verified. Accept: TDG.MMIO.ACCEPT for each TEE
/// range of the report (resumed while interrupted), TDG.TDI.RD(BIND_SESSION_ID), TDG.TDI.START,
/// TDCM START_TDI (the host's TDH.TDI.START), state RUN. Enable DMA: TDG.DMAR.ACCEPT. Unlock: TDCM
/// UNBIND. Every refusal names the layer that refused.
/// </summary>
public sealed class TdxTsmGuest : ITsmGuest
{
    /// <summary>The TDCM shared buffer (4 pages, shared with the VMM) and the private page TDG.TDI.RD writes hashes into.</summary>
    public const ulong SharedGpa = 0x40000, HashGpa = 0x30000;
    public const int SharedSize = Abi.Tdcm.MaxBufferSize;
    private const int MaxPolls = 1000;

    private readonly GuestRam ram;
    private readonly ITdcall cpu;
    private readonly Dictionary<int, ulong> guestBars;
    private readonly byte[] page = new byte[SharedSize];

    public TdxTsmGuest(GuestRam ram, ITdcall cpu, ushort guestRid, IReadOnlyDictionary<int, ulong> guestBarGpas)
    {
        this.ram = ram;
        this.cpu = cpu;
        GuestRid = guestRid;
        guestBars = new(guestBarGpas);
    }

    public ushort GuestRid { get; }
    /// <summary>The TDI's host func_id, from the BIND answer.</summary>
    public uint FuncId { get; private set; }
    /// <summary>The report whose hash matched the module's.</summary>
    public byte[]? Report { get; private set; }
    /// <summary>Its MMIO ranges.</summary>
    public IReadOnlyList<MmioRange> Ranges { get; private set; } = [];
    /// <summary>The last TDCALL's leaf name and status (for refusal details).</summary>
    public string LastCall => lastLeaf is ushort leaf ? $"{TdxLeaves.NameOf(TdxCallKind.Tdcall, leaf)} {TdxStatus.NameOf(lastStatus)}" : "";
    // The last TDCALL, named only when asked (a TDCALL formats no string).
    private ushort? lastLeaf;
    private ulong lastStatus;

    public bool EvidenceVerified => Report is not null;
    public bool DmaEnabled { get; private set; }

    // ---- TDCALL and TDVMCALL<TDCM> ----

    /// <summary>One TDCALL; returns the status (RAX).</summary>
    public ulong Tdcall(ushort leaf, ref TdxRegisters r)
    {
        r.Rax = TdxRegisters.LeafRax(leaf);
        cpu.Tdcall(ref r);
        lastLeaf = leaf;
        lastStatus = r.Rax;
        return r.Rax;
    }

    /// <summary>TDG.TDI.RD of a value field; the status, the value in <paramref name="value"/>.</summary>
    public ulong ReadField(ulong field, out ulong value)
    {
        var r = new TdxRegisters { Rcx = FuncId, Rdx = field };
        ulong st = Tdcall(TdxLeaves.TdiRead, ref r);
        value = r.Rcx;
        return st;
    }

    /// <summary>TDG.TDI.RD of a hash field into the private page; the status and the 48 bytes.</summary>
    public ulong ReadHash(ulong field, out byte[] hash)
    {
        hash = new byte[TdiReadField.HashLength];
        var r = new TdxRegisters { Rcx = FuncId, Rdx = field, R8 = HashGpa };
        ulong st = Tdcall(TdxLeaves.TdiRead, ref r);
        if (st == TdxStatus.Success && r.Rcx == TdiReadField.HashLength) ram.Read(HashGpa, hash);
        return st;
    }

    /// <summary>A TDCM operation: result, the data the VMM answered, and the refusal when there was one.</summary>
    public GuestStepResult Tdcm(GuestStep step, byte op, out byte[] data)
    {
        data = [];
        Array.Clear(page);
        page[Abi.Tdcm.Operation] = op;
        page[Abi.Tdcm.Status] = Abi.Tdcm.StatusWait;
        ram.Write(SharedGpa, page);
        var r = new TdxRegisters { R10 = 0, R11 = Abi.Tdcm.SubFunction, R12 = GuestRid, R13 = SharedGpa, R14 = SharedSize, R15 = 0 };
        ulong st = Tdcall(TdxLeaves.VpVmcall, ref r);
        string name = Abi.Tdcm.OpName(op);
        if (st != TdxStatus.Success) return GuestStepResult.Refused(step, RefusingLayer.Firmware, (long)st, $"TDG.VP.VMCALL {TdxStatus.NameOf(st)}");
        if (r.R10 != TdvmcallStatus.Success) return GuestStepResult.Refused(step, RefusingLayer.Host, (long)r.R10, $"TDCM {name}: {TdvmcallStatus.NameOf(r.R10)}");
        for (int poll = 0; ; poll++)
        {
            ram.Read(SharedGpa, page);
            if (page[Abi.Tdcm.Status] != Abi.Tdcm.StatusWait) break;
            if (poll == MaxPolls) return GuestStepResult.Refused(step, RefusingLayer.Host, 0, $"TDCM {name}: no completion");
        }
        if (page[Abi.Tdcm.Status] != Abi.Tdcm.StatusCompleted) return GuestStepResult.Refused(step, RefusingLayer.Host, 0, $"TDCM {name}: status {page[Abi.Tdcm.Status]}");
        uint error = BinaryPrimitives.ReadUInt32LittleEndian(page.AsSpan(Abi.Tdcm.Error));
        ulong tsmCode = BinaryPrimitives.ReadUInt64LittleEndian(page.AsSpan(Abi.Tdcm.TsmCode));
        if (error != 0)
            return tsmCode != 0 && TdxStatus.IsError(tsmCode)
                ? GuestStepResult.Refused(step, RefusingLayer.Firmware, (long)tsmCode, $"TDCM {name}: {TdxStatus.NameOf(tsmCode)} (host errno {error})")
                : GuestStepResult.Refused(step, RefusingLayer.Host, -error, $"TDCM {name}: host errno {TsmLab.Abi.ErrnoNames.NameOf(-(int)error)}");
        uint length = Abi.Tdcm.ReadDataLength(page);
        if (length > SharedSize - Abi.Tdcm.HeaderSize) return GuestStepResult.Refused(step, RefusingLayer.Guest, 0, $"TDCM {name}: data length {length} too large");
        data = page.AsSpan(Abi.Tdcm.HeaderSize, (int)length).ToArray();
        return GuestStepResult.Success(step, name);
    }

    private static GuestStepResult Fw(GuestStep step, string what, ulong st) => GuestStepResult.Refused(step, RefusingLayer.Firmware, (long)st, $"{what}: {TdxStatus.NameOf(st)}");
    private static GuestStepResult Own(GuestStep step, string why) => GuestStepResult.Refused(step, RefusingLayer.Guest, 0, why);

    // ---- the shared shape ----

    public GuestStepResult Lock()
    {
        const GuestStep step = GuestStep.Lock;
        var vm = new TdxRegisters { Rdx = TdcsField.ConfigFlags };
        ulong st = Tdcall(TdxLeaves.VmRead, ref vm);
        if (st != TdxStatus.Success) return Fw(step, "TDG.VM.RD(CONFIG_FLAGS)", st);
        if ((vm.R8 & TdcsField.ConfigFlagTdxConnect) == 0) return Own(step, "the TD is not opted in to TDX Connect (CONFIG_FLAGS bit 5 clear)");
        var t = Tdcm(step, Abi.Tdcm.OpCheckTeeioSupp, out var supp);
        if (!t.Ok) return t;
        if (supp.Length < 1 || supp[0] != 1) return Own(step, "the host offers no TEE-IO for this device");
        t = Tdcm(step, Abi.Tdcm.OpBind, out var bound);
        if (!t.Ok) return t;
        if (bound.Length != 4) return Own(step, "BIND answered no func_id");
        FuncId = BinaryPrimitives.ReadUInt32LittleEndian(bound);
        return Verify(step, "evidence verified (report hash, device info, state CONFIG_LOCKED)", TdiStateValue.ConfigLocked);
    }

    /// <summary>Fetches the report and the device info, checks both against the module's hashes and the TDI state.</summary>
    private GuestStepResult Verify(GuestStep step, string success, ulong expectedState)
    {
        Report = null;
        var t = Tdcm(step, Abi.Tdcm.OpGetTdiReport, out var report);
        if (!t.Ok) return t;
        ulong st = ReadField(TdiReadField.TdispState, out ulong state);
        if (st != TdxStatus.Success) return Fw(step, "TDG.TDI.RD(TDISP_STATE)", st);
        if (state != expectedState) return Own(step, $"TDI state {state}, expected {expectedState}");
        st = ReadHash(TdiReadField.ReportHash, out var hash);
        if (st != TdxStatus.Success) return Fw(step, "TDG.TDI.RD(REPORT_HASH)", st);
        if (!CryptographicOperations.FixedTimeEquals(SHA384.HashData(report), hash)) return Own(step, "the delivered report does not match the module's REPORT_HASH");
        var parsed = DeviceInterfaceReport.Parse(report);
        if (parsed is null) return Own(step, "the report does not parse");
        t = Tdcm(step, Abi.Tdcm.OpGetDeviceInfo, out var info);
        if (!t.Ok) return t;
        st = ReadHash(TdiReadField.DeviceAttestationInfoHash, out hash);
        if (st != TdxStatus.Success) return Fw(step, "TDG.TDI.RD(DEVICE_ATTESTATION_INFO_HASH)", st);
        if (!CryptographicOperations.FixedTimeEquals(SHA384.HashData(info), hash)) return Own(step, "the delivered device info does not match the module's hash");
        if (TdxDeviceEvidence.Check(info) is { } why) return Own(step, why);
        Report = report;
        Ranges = parsed.Ranges;
        return GuestStepResult.Success(step, success);
    }

    /// <summary>The guest physical address of a reported range: its BAR's guest address plus the range's offset in that BAR.</summary>
    public ulong GuestAddressOf(in MmioRange range)
    {
        ulong barBase = ulong.MaxValue;
        foreach (var r in Ranges) if (r.RangeId == range.RangeId) barBase = Math.Min(barBase, r.FirstPage);
        return guestBars.GetValueOrDefault(range.RangeId) + (range.FirstPage - barBase);
    }

    /// <summary>TDG.MMIO.ACCEPT of <paramref name="count"/> pages from <paramref name="offset"/> of range <paramref name="index"/> at <paramref name="gpa"/>, resumed while interrupted.</summary>
    public ulong AcceptMmio(ulong gpa, ulong index, uint offset, uint count)
    {
        var r = new TdxRegisters { Rcx = gpa, Rdx = index, R8 = FuncId, R9 = ((ulong)offset << 32) | count };
        while (true)
        {
            ulong st = Tdcall(TdxLeaves.MmioAccept, ref r);
            if (st != TdxStatus.InterruptedResumable) return st;
            r.Rdx = index;
            r.R8 = FuncId;
        }
    }

    /// <summary>TDG.TDI.START with <paramref name="sessionId"/>.</summary>
    public ulong StartTdi(ulong sessionId)
    {
        var r = new TdxRegisters { Rcx = FuncId, Rdx = sessionId };
        return Tdcall(TdxLeaves.TdiStartGuest, ref r);
    }

    public GuestStepResult Accept()
    {
        const GuestStep step = GuestStep.Accept;
        if (Report is null) return Own(step, "no verified report");
        for (int i = 0; i < Ranges.Count; i++)
        {
            var range = Ranges[i];
            if ((range.Attributes & MmioRangeAttributes.IsNonTeeMem) != 0) continue;
            ulong st = AcceptMmio(GuestAddressOf(range), (ulong)i, 0, range.NumberOfPages);
            if (st != TdxStatus.Success && st != TdxStatus.MmioPageAlreadyAccepted) return Fw(step, $"TDG.MMIO.ACCEPT(range {i})", st);
        }
        ulong s = ReadField(TdiReadField.BindSessionId, out ulong session);
        if (s != TdxStatus.Success) return Fw(step, "TDG.TDI.RD(BIND_SESSION_ID)", s);
        s = StartTdi(session);
        if (s != TdxStatus.Success) return Fw(step, "TDG.TDI.START", s);
        var t = Tdcm(step, Abi.Tdcm.OpStartTdi, out _);
        if (!t.Ok) return t;
        s = ReadField(TdiReadField.TdispState, out ulong state);
        if (s != TdxStatus.Success) return Fw(step, "TDG.TDI.RD(TDISP_STATE)", s);
        return state == TdiStateValue.Run ? GuestStepResult.Success(step, "MMIO accepted, RUN") : Own(step, $"TDI state {state} after start");
    }

    public GuestStepResult EnableDma()
    {
        var r = new TdxRegisters { Rcx = FuncId, Rdx = 0 };
        ulong st = Tdcall(TdxLeaves.DmarAccept, ref r);
        if (st != TdxStatus.Success) return Fw(GuestStep.EnableDma, "TDG.DMAR.ACCEPT", st);
        DmaEnabled = true;
        return GuestStepResult.Success(GuestStep.EnableDma, "trusted DMA accepted");
    }

    public GuestStepResult Unlock()
    {
        var t = Tdcm(GuestStep.Unlock, Abi.Tdcm.OpUnbind, out _);
        if (t.Ok) { DmaEnabled = false; Report = null; }
        return t.Ok ? GuestStepResult.Success(GuestStep.Unlock, "unbound") : t;
    }

    public GuestStepResult RefreshEvidence()
    {
        ulong st = ReadField(TdiReadField.TdispState, out ulong state);
        if (st != TdxStatus.Success) return Fw(GuestStep.RefreshEvidence, "TDG.TDI.RD(TDISP_STATE)", st);
        return Verify(GuestStep.RefreshEvidence, "evidence verified again", state);
    }
}
