using System.Security.Cryptography;
using TsmLab.Platforms.SevTio.Firmware;
using TsmLab.Platforms.SevTio.Kvm;
using TsmLab.Tdisp.Requester;
using TsmLab.Tdisp.Wire;
using TsmLab.Vmm;
using TsmLab.Platforms.SevTio.Abi;
using System.Buffers.Binary;

namespace TsmLab.Platforms.SevTio.Guest;

/// <summary>How a guest step ended.</summary>
/// <remarks>
/// The SNP guest's TIO driver (drivers/virt/coco/sev-guest/tio.c [S1,S2]): it holds VMPCK0 (from
/// its secrets page) and its message sequence number, talks to the hypervisor only with VMGEXIT
/// through the GHCB, and runs the guest sequence: lock = OP_BIND + TDI_INFO(CERTS|MEAS|REPORT) with
/// the evidence digests verified; accept = MMIO_VALIDATE per reported range + OP_RUN; enable_dma =
/// SDTE_WRITE; unlock = MMIO invalidate, SDTE clear, OP_STOP, OP_UNBIND; refresh_evidence =
/// TDI_INFO(MEAS) with a fresh nonce. Every step returns a GuestResult, never throws for a refusal.
/// </remarks>
public enum GuestOutcome
{
    Ok,
    /// <summary>The GHCB exit failed (exit_info_2 holds the VMM/firmware error).</summary>
    ExitFailed,
    /// <summary>The response did not authenticate, or carried the wrong type or sequence number.</summary>
    BadResponse,
    /// <summary>The firmware answered with a non-success TIO status.</summary>
    Refused,
    /// <summary>Evidence did not match the digests in the encrypted TDI_INFO (or the nonce was not echoed).</summary>
    EvidenceMismatch,
}

/// <summary>A guest step's result: outcome, exit_info_2, and the TIO status when there was one.</summary>
public readonly record struct GuestResult(GuestOutcome Outcome, ulong ExitInfo2 = 0, ushort Status = 0)
{
    public bool IsOk => Outcome == GuestOutcome.Ok;
}

/// <summary>What TDI_INFO told the guest, with the evidence it verified.</summary>
public sealed record TdiEvidence(TdiInfoStatus Status, uint MeasFlags, uint LockFlags, ulong SpdmAlgos, ulong ReportCount,
    byte[] Certificates, byte[] Measurements, byte[] Report, IReadOnlyList<MmioRange> Ranges, TdiState? TdispState);

/// <summary>The SNP guest's SEV-TIO driver for one assigned function.</summary>
public sealed class SnpTioGuest : IDisposable, ITsmGuest
{
    /// <summary>Guest pages: request, response, then the data pages (8 = 32 KiB, as tio.c starts with).</summary>
    public const ulong RequestGpa = 0x10000, ResponseGpa = 0x11000, DataGpa = 0x20000;
    /// <summary>The guest's GHCB page (shared with the hypervisor; the GHCB MSR holds this address).</summary>
    public const ulong GhcbGpa = 0xF000;
    public const int InitialDataPages = 8;

    private readonly GuestRam ram;
    private readonly IVmgexit cpu;
    private readonly byte[] ghcb = new byte[GhcbPage.Size];
    private readonly AesGcm vmpck;
    private readonly Dictionary<int, ulong> guestBars;
    private readonly byte[] page = new byte[SnpGuestMessage.PageSize];
    private readonly byte[] plain = new byte[SnpGuestMessage.MaxPayload];

    public SnpTioGuest(GuestRam ram, IVmgexit cpu, byte[] vmpck0, uint guestRid, IReadOnlyDictionary<int, ulong> guestBarGpas)
    {
        this.ram = ram;
        this.cpu = cpu;
        vmpck = new AesGcm(vmpck0, SnpGuestMessage.TagSize);
        GuestRid = guestRid;
        guestBars = new(guestBarGpas);
    }

    public uint GuestRid { get; }
    /// <summary>The firmware's tdi_id, from OP_BIND's RCX.</summary>
    public ulong TdiId { get; private set; }
    /// <summary>The next request's sequence number.</summary>
    public ulong NextSeqno { get; set; } = 1;
    /// <summary>Data pages offered with TDI_INFO (grown on INVALID_LEN).</summary>
    public int DataPages { get; set; } = InitialDataPages;
    /// <summary>The last verified evidence.</summary>
    public TdiEvidence? Evidence { get; private set; }
    /// <summary>Every plaintext request and response payload the guest produced or read (for the no-plaintext check).</summary>
    public List<byte[]> Plaintexts { get; } = [];

    public GuestResult Op(SevTioAction action)
    {
        var g = Vmgexit(new GhcbFields { ExitCode = SevTioExit.TioOp, ExitInfo1 = ((ulong)action << 32) | GuestRid });
        if (g.ExitInfo2 != 0) return new(GuestOutcome.ExitFailed, g.ExitInfo2);
        if (action == SevTioAction.Bind) TdiId = g.Rcx;
        return new(GuestOutcome.Ok);
    }

    /// <summary>lock: OP_BIND, then TDI_INFO with CERTS|MEAS|REPORT (and STATE), evidence checked against the digests.</summary>
    public GuestResult Lock()
    {
        var r = Op(SevTioAction.Bind);
        return r.IsOk ? Info(TdiInfoParam.State | TdiInfoParam.Certs | TdiInfoParam.Meas | TdiInfoParam.Report, RandomNumberGenerator.GetBytes(32)) : r;
    }

    /// <summary>TDI_INFO with the given param bits; with MEAS the nonce goes at offset 0 of the data pages [S2].</summary>
    public GuestResult Info(TdiInfoParam param, byte[]? nonce = null)
    {
        Span<byte> rq = stackalloc byte[TdiInfoMessage.RequestSize];
        rq.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(rq[TdiInfoMessage.TdiId..], TdiId);
        while (true)
        {
            if (nonce is not null) ram.Write(DataGpa, nonce);
            var r = Exchange(SnpMsgType.TdiInfoRequest, rq, (ulong)param, 0, out var rsp, out var g);
            if (r.Outcome == GuestOutcome.ExitFailed && g.ExitInfo2 == SevTsmCode.InvalidLength && (int)g.Rbx > DataPages)
            {
                DataPages = (int)g.Rbx;
                continue;
            }
            if (!r.IsOk) return r;
            var status = (TdiInfoStatus)BinaryPrimitives.ReadUInt16LittleEndian(rsp.AsSpan(TdiInfoMessage.Status));
            if (status != TdiInfoStatus.Bound) return new(GuestOutcome.Refused, 0, (ushort)status);
            return Verify(rsp, param, nonce, g.Rdx);
        }
    }

    private GuestResult Verify(byte[] rsp, TdiInfoParam param, byte[]? nonce, ulong rdx)
    {
        var pages = new byte[DataPages * 4096];
        ram.Read(DataGpa, pages);
        byte[] Blob(TdiInfoParam bit, Guid guid, int digestAt, byte[] keep, out bool ok)
        {
            ok = true;
            if ((param & bit) == 0) return keep;
            var b = EvidenceBlobTable.Find(pages, guid);
            ok = b is not null && CryptographicOperations.FixedTimeEquals(SHA384.HashData(b), rsp.AsSpan(digestAt, TdiInfoMessage.DigestSize));
            return b ?? [];
        }
        var prev = Evidence;
        var certs = Blob(TdiInfoParam.Certs, EvidenceBlobTable.Certificates, TdiInfoMessage.CertsDigest, prev?.Certificates ?? [], out bool c1);
        var meas = Blob(TdiInfoParam.Meas, EvidenceBlobTable.Measurements, TdiInfoMessage.MeasDigest, prev?.Measurements ?? [], out bool c2);
        var report = Blob(TdiInfoParam.Report, EvidenceBlobTable.Report, TdiInfoMessage.ReportDigest, prev?.Report ?? [], out bool c3);
        if (!c1 || !c2 || !c3) return new(GuestOutcome.EvidenceMismatch);
        uint measFlags = BinaryPrimitives.ReadUInt32LittleEndian(rsp.AsSpan(TdiInfoMessage.MeasFlags));
        if ((param & TdiInfoParam.Meas) != 0 && nonce is not null &&
            ((measFlags & TdiInfoMessage.MeasDigestFresh) == 0 || meas.Length < 32 || !meas.AsSpan(0, 32).SequenceEqual(nonce)))
            return new(GuestOutcome.EvidenceMismatch);
        var ranges = prev?.Ranges ?? [];
        if ((param & TdiInfoParam.Report) != 0)
        {
            var parsed = DeviceInterfaceReport.Parse(report);
            if (parsed is null) return new(GuestOutcome.EvidenceMismatch);
            ranges = parsed.Ranges;
        }
        Evidence = new TdiEvidence(TdiInfoStatus.Bound, measFlags, BinaryPrimitives.ReadUInt32LittleEndian(rsp.AsSpan(TdiInfoMessage.LockFlags)), BinaryPrimitives.ReadUInt64LittleEndian(rsp.AsSpan(TdiInfoMessage.SpdmAlgos)),
            BinaryPrimitives.ReadUInt64LittleEndian(rsp.AsSpan(TdiInfoMessage.ReportCount)), certs, meas, report, ranges,
            (param & TdiInfoParam.State) != 0 ? (TdiState)rdx : null);
        return new(GuestOutcome.Ok);
    }

    /// <summary>
    /// accept: MMIO_VALIDATE of every TEE range of the verified report, then OP_RUN (the issue's
    /// order; [S2] writes "OP_RUN + MMIO_VALIDATE" and the PSP accepts validation in either state).
    /// </summary>
    public GuestResult Accept()
    {
        if (Evidence is null) return new(GuestOutcome.EvidenceMismatch);
        var r = ValidateAll(true);
        return r.IsOk ? Op(SevTioAction.Run) : r;
    }

    /// <summary>MMIO_VALIDATE (or invalidate) of every reported range not marked IS_NON_TEE_MEM.</summary>
    public GuestResult ValidateAll(bool validate)
    {
        foreach (var range in Evidence?.Ranges ?? [])
        {
            if ((range.Attributes & MmioRangeAttributes.IsNonTeeMem) != 0) continue;
            var r = ValidateRange(range, validate);
            if (!r.IsOk) return r;
        }
        return new(GuestOutcome.Ok);
    }

    /// <summary>One MMIO_VALIDATE for a reported range, at the guest BAR address of its range_id.</summary>
    public GuestResult ValidateRange(in MmioRange range, bool validate, ushort extraFlags = 0)
    {
        ulong barBase = ulong.MaxValue;
        foreach (var r in Evidence!.Ranges) if (r.RangeId == range.RangeId) barBase = Math.Min(barBase, r.FirstPage);
        ulong offset = range.FirstPage - barBase;
        ulong gpa = guestBars.GetValueOrDefault(range.RangeId) + offset;
        return ValidateMmio(gpa, range.NumberOfPages, (uint)offset, range.RangeId, validate, extraFlags, out _);
    }

    /// <summary>A raw MMIO_VALIDATE; RDX = GPA | validate, RCX high = page count.</summary>
    public GuestResult ValidateMmio(ulong gpa, uint pages, uint rangeOffset, ushort rangeId, bool validate, ushort extraFlags, out bool changed)
    {
        Span<byte> rq = stackalloc byte[MmioValidateMessage.Size];
        rq.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(rq[MmioValidateMessage.TdiId..], TdiId);
        BinaryPrimitives.WriteUInt64LittleEndian(rq[MmioValidateMessage.SubrangeBase..], gpa >> 12);
        BinaryPrimitives.WriteUInt32LittleEndian(rq[MmioValidateMessage.PageCount..], pages);
        BinaryPrimitives.WriteUInt32LittleEndian(rq[MmioValidateMessage.RangeOffset..], rangeOffset);
        BinaryPrimitives.WriteUInt16LittleEndian(rq[MmioValidateMessage.Flags..], (ushort)((validate ? MmioValidateMessage.FlagValidated : 0) | extraFlags));
        BinaryPrimitives.WriteUInt16LittleEndian(rq[MmioValidateMessage.RangeId..], rangeId);
        var r = Exchange(SnpMsgType.MmioValidateRequest, rq, (gpa & ~0xFFFul) | (validate ? 1ul : 0), (ulong)pages << 32, out var rsp, out _);
        changed = false;
        if (!r.IsOk) return r;
        changed = (BinaryPrimitives.ReadUInt16LittleEndian(rsp.AsSpan(MmioValidateMessage.Flags)) & MmioValidateMessage.FlagChanged) != 0;
        ushort st = BinaryPrimitives.ReadUInt16LittleEndian(rsp.AsSpan(MmioValidateMessage.Status));
        return st == 0 ? new(GuestOutcome.Ok) : new(GuestOutcome.Refused, 0, st);
    }

    /// <summary>enable_dma: SDTE_WRITE with V/IR/IW and vTOM; RDX = vTOM | SDTE_VALIDATE.</summary>
    public GuestResult EnableDma(ulong vtom = 0) => SdteWrite(s => Sdte.WriteEnable(s, vtom), vtom | 1);

    /// <summary>SDTE_WRITE with an all-zero SDTE.</summary>
    public GuestResult DisableDma() => SdteWrite(s => s.Clear(), 0);

    /// <summary>SDTE_WRITE with an SDTE the caller fills.</summary>
    public GuestResult SdteWrite(SpanAction fill, ulong rdx)
    {
        Span<byte> rq = stackalloc byte[SdteWriteMessage.RequestSize];
        rq.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(rq[SdteWriteMessage.TdiId..], TdiId);
        fill(rq.Slice(SdteWriteMessage.Sdte, Sdte.Size));
        var r = Exchange(SnpMsgType.SdteWriteRequest, rq, rdx, 0, out var rsp, out _);
        if (!r.IsOk) return r;
        ushort st = BinaryPrimitives.ReadUInt16LittleEndian(rsp.AsSpan(SdteWriteMessage.Status));
        return st == 0 ? new(GuestOutcome.Ok) : new(GuestOutcome.Refused, 0, st);
    }

    /// <summary>MMIO_CONFIG (TsmLab layout): read, or write IS_NON_TEE_MEM, for a range_id.</summary>
    public GuestResult MmioConfig(ushort rangeId, bool write, ushort attributes, out ushort now, ushort flagsOverride = 0)
    {
        Span<byte> rq = stackalloc byte[MmioConfigMessage.Size];
        rq.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(rq[MmioConfigMessage.TdiId..], TdiId);
        BinaryPrimitives.WriteUInt16LittleEndian(rq[MmioConfigMessage.RangeId..], rangeId);
        BinaryPrimitives.WriteUInt16LittleEndian(rq[MmioConfigMessage.Flags..], flagsOverride != 0 ? flagsOverride : write ? MmioConfigMessage.FlagWrite : (ushort)0);
        BinaryPrimitives.WriteUInt16LittleEndian(rq[MmioConfigMessage.Attributes..], attributes);
        var r = Exchange(SnpMsgType.MmioConfigRequest, rq, 0, 0, out var rsp, out _);
        now = 0;
        if (!r.IsOk) return r;
        now = BinaryPrimitives.ReadUInt16LittleEndian(rsp.AsSpan(MmioConfigMessage.Attributes));
        ushort st = BinaryPrimitives.ReadUInt16LittleEndian(rsp.AsSpan(MmioConfigMessage.Status));
        return st == 0 ? new(GuestOutcome.Ok) : new(GuestOutcome.Refused, 0, st);
    }

    /// <summary>unlock: MMIO invalidated, DMA disabled, OP_STOP, OP_UNBIND.</summary>
    public GuestResult Unlock()
    {
        var r = ValidateAll(false);
        if (r.IsOk) r = DisableDma();
        if (r.IsOk) r = Op(SevTioAction.Stop);
        var u = Op(SevTioAction.Unbind);
        return r.IsOk ? u : r;
    }

    /// <summary>refresh_evidence: TDI_INFO(MEAS) with a fresh nonce; the blob must echo it and be marked fresh.</summary>
    public GuestResult RefreshMeasurements(byte[]? nonce = null) => Info(TdiInfoParam.Meas, nonce ?? RandomNumberGenerator.GetBytes(32));

    /// <summary>Delegate that fills an SDTE image.</summary>
    public delegate void SpanAction(Span<byte> sdte);

    /// <summary>
    /// Seals <paramref name="payload"/> into the request page, VMGEXITs, and opens the answer.
    /// The sequence number advances only when an authenticated response came back.
    /// </summary>
    public GuestResult Exchange(SnpMsgType type, ReadOnlySpan<byte> payload, ulong rdx, ulong rcxHigh, out byte[] response, out GhcbFields ghcb)
    {
        response = [];
        Plaintexts.Add(payload.ToArray());
        SnpGuestMessage.Seal(vmpck, page, NextSeqno, type, TioMessageVersion.Current, 0, payload);
        ram.Write(RequestGpa, page);
        ghcb = Vmgexit(new GhcbFields
        {
            ExitCode = SevTioExit.GuestRequest, ExitInfo1 = RequestGpa, ExitInfo2 = ResponseGpa,
            Rax = DataGpa, Rbx = (ulong)DataPages, Rcx = GuestRid | rcxHigh, Rdx = rdx,
        });
        if (ghcb.ExitInfo2 != 0) return new(GuestOutcome.ExitFailed, ghcb.ExitInfo2);
        ram.Read(ResponseGpa, page);
        var h = SnpMessageHeader.Read(page);
        if (h.Type != type + 1 || h.Seqno != NextSeqno + 1 || !SnpGuestMessage.TryOpen(vmpck, page, plain, out int n))
            return new(GuestOutcome.BadResponse);
        NextSeqno += 2;
        response = plain.AsSpan(0, n).ToArray();
        Plaintexts.Add(response);
        return new(GuestOutcome.Ok);
    }

    /// <summary>Writes the exit into the GHCB page, VMGEXITs, and reads the answer back from the page.</summary>
    private GhcbFields Vmgexit(GhcbFields exit)
    {
        Array.Clear(ghcb);
        exit.WriteTo(ghcb);
        ram.Write(GhcbGpa, ghcb);
        cpu.Vmgexit(GhcbGpa);
        ram.Read(GhcbGpa, ghcb);
        return GhcbFields.Read(ghcb);
    }

    public void Dispose() => vmpck.Dispose();

    // ---- the shape every platform's guest shares (ITsmGuest) ----

    private bool dmaEnabled;

    private static GuestStepResult Step(GuestStep step, GuestResult r, string success) => r.Outcome switch
    {
        GuestOutcome.Ok => GuestStepResult.Success(step, success),
        GuestOutcome.ExitFailed => GuestStepResult.Refused(step, RefusingLayer.Host, (long)r.ExitInfo2, $"{r.Outcome} (exit_info_2 0x{r.ExitInfo2:x})"),
        GuestOutcome.Refused => GuestStepResult.Refused(step, RefusingLayer.Firmware, r.Status, $"{r.Outcome} (status {r.Status}, exit_info_2 0x{r.ExitInfo2:x})"),
        _ => GuestStepResult.Refused(step, RefusingLayer.Guest, r.Status, $"{r.Outcome} (status {r.Status}, exit_info_2 0x{r.ExitInfo2:x})"),
    };

    GuestStepResult ITsmGuest.Lock() => Step(GuestStep.Lock, Lock(), "evidence verified");
    GuestStepResult ITsmGuest.Accept() => Step(GuestStep.Accept, Accept(), "validated, RUN");

    GuestStepResult ITsmGuest.EnableDma()
    {
        var r = EnableDma();
        if (r.IsOk) dmaEnabled = true;
        return Step(GuestStep.EnableDma, r, "DMA enabled");
    }

    GuestStepResult ITsmGuest.Unlock()
    {
        var r = Unlock();
        if (r.IsOk) dmaEnabled = false;
        return Step(GuestStep.Unlock, r, "unlocked");
    }

    GuestStepResult ITsmGuest.RefreshEvidence() => Step(GuestStep.RefreshEvidence, RefreshMeasurements(), "fresh measurements verified");
    bool ITsmGuest.EvidenceVerified => Evidence is not null;
    bool ITsmGuest.DmaEnabled => dmaEnabled;
}
