using System.Security.Cryptography;
using TsmLab.Tdisp.Wire;
using TsmLab.Platforms.SevTio.Abi;
using System.Buffers.Binary;

namespace TsmLab.Platforms.SevTio.Firmware;

/// <summary>
/// SEV_CMD_TIO_GUEST_REQUEST (0xE0) [S4,S5]: the host hands the PSP the guest's request page and a
/// response page by physical address (struct sev_data_tio_guest_request, 80 B: no parameter words —
/// the guest's RDX never reaches the PSP; KVM sets it from the host's answer [S7]); the PSP checks
/// the header, the sequence number and the GCM tag with the guest's VMPCK, acts on the TIO message
/// (TDI_INFO, MMIO_VALIDATE, MMIO_CONFIG, SDTE_WRITE, [S2]), and seals the answer with seqno + 1. A
/// refused message changes nothing: not the sequence number, not the response page, not the RMP,
/// not the SDTE.
/// </summary>
public sealed partial class PspFirmware
{
    private PspStatus GuestRequest(Span<byte> b)
    {
        LastRefusal = GuestMessageRefusal.None;
        var rc = CheckSpdmCtrl(b, PspCommandBuffer.GuestRequest.SpdmCtrl);
        if (rc != PspStatus.Success) return rc;
        if (FindTdi(b, PspCommandBuffer.GuestRequest.DevCtxSla, PspCommandBuffer.GuestRequest.TdiCtxSla) is not { } tdi) return PspStatus.InvalidParam;
        if (!guestsByGctx.TryGetValue(BinaryPrimitives.ReadUInt64LittleEndian(b[PspCommandBuffer.GuestRequest.Gctx..]), out var guest) || guest.Asid != tdi.Asid) return PspStatus.InvalidGuest;
        if (!Memory.TryGet(BinaryPrimitives.ReadUInt64LittleEndian(b[PspCommandBuffer.GuestRequest.ReqPaddr..]), SnpGuestMessage.PageSize, out var req) ||
            !Memory.TryGet(BinaryPrimitives.ReadUInt64LittleEndian(b[PspCommandBuffer.GuestRequest.ResPaddr..]), SnpGuestMessage.PageSize, out var res))
            return PspStatus.InvalidAddress;

        var h = SnpMessageHeader.Read(req);
        if (!SnpGuestMessage.IsWellFormedRequest(h, TioVersion)) return Refuse(GuestMessageRefusal.BadHeader);
        if (h.Vmpck != 0) return Refuse(GuestMessageRefusal.WrongVmpck);
        if (h.Seqno != guest.NextSeqno) return Refuse(GuestMessageRefusal.BadSequence);
        if (!SnpGuestMessage.TryOpen(guest.Aead, req, this.payload, out int length)) return Refuse(GuestMessageRefusal.AuthenticationFailed);
        var payload = this.payload.AsSpan(0, length);
        int answer;
        switch (h.Type)
        {
            case SnpMsgType.TdiInfoRequest when length == TdiInfoMessage.RequestSize:
                answer = TdiInfoAnswer(tdi, payload);
                break;
            case SnpMsgType.MmioValidateRequest when length == MmioValidateMessage.Size:
                answer = MmioValidateAnswer(tdi, payload);
                break;
            case SnpMsgType.MmioConfigRequest when length == MmioConfigMessage.Size:
                answer = MmioConfigAnswer(tdi, payload);
                break;
            case SnpMsgType.SdteWriteRequest when length == SdteWriteMessage.RequestSize:
                answer = SdteWriteAnswer(tdi, payload);
                break;
            default:
                payload.Clear();
                return Refuse(GuestMessageRefusal.BadLength);
        }
        payload.Clear();
        SnpGuestMessage.Seal(guest.Aead, res, h.Seqno + 1, h.Type + 1, h.Version, 0, this.answer.AsSpan(0, answer));
        this.answer.AsSpan(0, answer).Clear();
        guest.NextSeqno += 2;
        return PspStatus.Success;
    }

    private PspStatus Refuse(GuestMessageRefusal why)
    {
        LastRefusal = why;
        return PspStatus.InvalidParam;
    }

    /// <summary>TDI_INFO_RSP [S2]: status, lock flags, algorithms, SHA-384 digests of the evidence, report count.</summary>
    private int TdiInfoAnswer(TdiContext tdi, ReadOnlySpan<byte> rq)
    {
        var a = answer.AsSpan(0, TdiInfoMessage.ResponseSize);
        a.Clear();
        ulong tdiId = BinaryPrimitives.ReadUInt64LittleEndian(rq[TdiInfoMessage.TdiId..]);
        BinaryPrimitives.WriteUInt64LittleEndian(a[TdiInfoMessage.TdiId..], tdiId);
        if (tdiId != tdi.TdiId) { BinaryPrimitives.WriteUInt16LittleEndian(a[TdiInfoMessage.Status..], (ushort)TdiInfoStatus.Invalid); return a.Length; }
        if (tdi.State == TdiFirmwareState.Unbound) { BinaryPrimitives.WriteUInt16LittleEndian(a[TdiInfoMessage.Status..], (ushort)TdiInfoStatus.Unbound); return a.Length; }
        var dev = tdi.Device;
        BinaryPrimitives.WriteUInt16LittleEndian(a[TdiInfoMessage.Status..], (ushort)TdiInfoStatus.Bound);
        BinaryPrimitives.WriteUInt32LittleEndian(a[TdiInfoMessage.MeasFlags..], TdiInfoMessage.MeasDigestValid | (dev.MeasurementsFresh ? TdiInfoMessage.MeasDigestFresh : 0));
        BinaryPrimitives.WriteUInt32LittleEndian(a[TdiInfoMessage.LockFlags..], tdi.LockFlags);
        BinaryPrimitives.WriteUInt64LittleEndian(a[TdiInfoMessage.SpdmAlgos..], TdiInfoMessage.ModelAlgos);
        SHA384.HashData(dev.Certificates, a.Slice(TdiInfoMessage.CertsDigest, TdiInfoMessage.DigestSize));
        SHA384.HashData(dev.Measurements, a.Slice(TdiInfoMessage.MeasDigest, TdiInfoMessage.DigestSize));
        SHA384.HashData(tdi.Report, a.Slice(TdiInfoMessage.ReportDigest, TdiInfoMessage.DigestSize));
        BinaryPrimitives.WriteUInt64LittleEndian(a[TdiInfoMessage.ReportCount..], tdi.ReportCount);
        dev.MeasurementsFresh = false;
        return a.Length;
    }

    /// <summary>MMIO_VALIDATE_RSP [S2]: the subrange is checked against the report and the RMP, then RMP.Validated set as asked.</summary>
    private int MmioValidateAnswer(TdiContext tdi, ReadOnlySpan<byte> rq)
    {
        var a = answer.AsSpan(0, MmioValidateMessage.Size);
        rq.CopyTo(a);
        BinaryPrimitives.WriteUInt16LittleEndian(a[MmioValidateMessage.Flags..], 0);
        a.Slice(36).Clear();
        var status = ValidateMmio(tdi, rq, out bool changed);
        BinaryPrimitives.WriteUInt16LittleEndian(a[MmioValidateMessage.Status..], (ushort)status);
        if (changed) BinaryPrimitives.WriteUInt16LittleEndian(a[MmioValidateMessage.Flags..], MmioValidateMessage.FlagChanged);
        return a.Length;
    }

    private MmioValidateStatus ValidateMmio(TdiContext tdi, ReadOnlySpan<byte> rq, out bool changed)
    {
        changed = false;
        if (BinaryPrimitives.ReadUInt64LittleEndian(rq[MmioValidateMessage.TdiId..]) != tdi.TdiId) return MmioValidateStatus.InvalidTdi;
        if (tdi.State == TdiFirmwareState.Unbound) return MmioValidateStatus.TdiUnbound;
        ulong guestPage = BinaryPrimitives.ReadUInt64LittleEndian(rq[MmioValidateMessage.SubrangeBase..]);
        uint pages = BinaryPrimitives.ReadUInt32LittleEndian(rq[MmioValidateMessage.PageCount..]);
        uint offset = BinaryPrimitives.ReadUInt32LittleEndian(rq[MmioValidateMessage.RangeOffset..]);
        ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(rq[MmioValidateMessage.Flags..]);
        ushort rangeId = BinaryPrimitives.ReadUInt16LittleEndian(rq[MmioValidateMessage.RangeId..]);
        if ((offset & 0xFFF) != 0) return MmioValidateStatus.Not4K;
        ulong barBase = ulong.MaxValue;
        foreach (var r in tdi.Ranges) if (r.RangeId == rangeId) barBase = Math.Min(barBase, r.FirstPage);
        if (barBase == ulong.MaxValue) return MmioValidateStatus.NotReported;
        if (pages == 0) return MmioValidateStatus.OutOfRange;
        ulong spa = barBase + offset;
        MmioRangeAttributes? attrs = null;
        for (uint i = 0; i < pages; i++)
        {
            ulong page = spa + (ulong)i * 4096;
            MmioRange? covering = null;
            foreach (var r in tdi.Ranges)
                if (r.RangeId == rangeId && page >= r.FirstPage && page - r.FirstPage < (ulong)r.NumberOfPages * 4096) covering = r;
            if (covering is not { } c) return MmioValidateStatus.OutOfRange;
            if ((c.Attributes & MmioRangeAttributes.IsNonTeeMem) != 0) return MmioValidateStatus.NotImmutable;
            if (attrs is { } prev && prev != c.Attributes) return MmioValidateStatus.NotUniform;
            attrs = c.Attributes;
        }
        bool want = (flags & MmioValidateMessage.FlagValidated) != 0, force = (flags & MmioValidateMessage.FlagForce) != 0;
        bool? first = null;
        for (uint i = 0; i < pages; i++)
        {
            var e = Rmp.Lookup(spa + (ulong)i * 4096);
            if (!e.Assigned || e.Asid != tdi.Asid) return MmioValidateStatus.NotAssigned;
            if (!e.Mmio) return MmioValidateStatus.NotIo;
            if (e.GuestPage != guestPage + i) return MmioValidateStatus.NotMapped;
            if (first is { } f && f != e.Validated && !force) return MmioValidateStatus.NotUniform;
            first ??= e.Validated;
        }
        for (uint i = 0; i < pages; i++)
        {
            ulong page = spa + (ulong)i * 4096;
            changed |= Rmp.Lookup(page).Validated != want;
            Rmp.SetValidated(page, want);
        }
        return MmioValidateStatus.Success;
    }

    /// <summary>MMIO_CONFIG (TsmLab definition): read the attributes of a reported range, or set IS_NON_TEE_MEM with SET_MMIO_ATTRIBUTE.</summary>
    private int MmioConfigAnswer(TdiContext tdi, ReadOnlySpan<byte> rq)
    {
        var a = answer.AsSpan(0, MmioConfigMessage.Size);
        a.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(a[MmioConfigMessage.TdiId..], BinaryPrimitives.ReadUInt64LittleEndian(rq[MmioConfigMessage.TdiId..]));
        ushort rangeId = BinaryPrimitives.ReadUInt16LittleEndian(rq[MmioConfigMessage.RangeId..]);
        BinaryPrimitives.WriteUInt16LittleEndian(a[MmioConfigMessage.RangeId..], rangeId);
        var status = ConfigMmio(tdi, rq, rangeId, out ushort now);
        BinaryPrimitives.WriteUInt16LittleEndian(a[MmioConfigMessage.Status..], (ushort)status);
        BinaryPrimitives.WriteUInt16LittleEndian(a[MmioConfigMessage.Attributes..], now);
        return a.Length;
    }

    private MmioConfigStatus ConfigMmio(TdiContext tdi, ReadOnlySpan<byte> rq, ushort rangeId, out ushort now)
    {
        now = 0;
        if (BinaryPrimitives.ReadUInt64LittleEndian(rq[MmioConfigMessage.TdiId..]) != tdi.TdiId) return MmioConfigStatus.InvalidTdi;
        if (tdi.State != TdiFirmwareState.BindRun) return MmioConfigStatus.TdiNotBound;
        ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(rq[MmioConfigMessage.Flags..]), attrs = BinaryPrimitives.ReadUInt16LittleEndian(rq[MmioConfigMessage.Attributes..]);
        if ((flags & ~MmioConfigMessage.FlagWrite) != 0 || (attrs & ~(ushort)MmioRangeAttributes.IsNonTeeMem) != 0 ||
            rq[(MmioConfigMessage.Attributes + 2)..].ContainsAnyExcept((byte)0))
            return MmioConfigStatus.Reserved;
        int firstIndex = Array.FindIndex(tdi.Ranges, r => r.RangeId == rangeId);
        if (firstIndex < 0) return MmioConfigStatus.NotReported;
        if ((flags & MmioConfigMessage.FlagWrite) != 0)
        {
            var updated = (MmioRange[])tdi.Ranges.Clone();
            for (int i = 0; i < updated.Length; i++)
            {
                if (updated[i].RangeId != rangeId) continue;
                var target = updated[i] with { Attributes = (updated[i].Attributes & ~MmioRangeAttributes.IsNonTeeMem) | (MmioRangeAttributes)attrs };
                if (target.Attributes == updated[i].Attributes) continue;
                if (!tdi.Device.Requester!.SetMmioAttribute(tdi.Function, target).IsSuccess) return MmioConfigStatus.DeviceRefused;
                updated[i] = target;
            }
            tdi.Ranges = updated;
        }
        now = (ushort)tdi.Ranges[firstIndex].Attributes;
        return MmioConfigStatus.Success;
    }

    /// <summary>SDTE_WRITE_RSP [S2]: writes the guest's SDTE (completed with the firmware's fields) or clears it.</summary>
    private int SdteWriteAnswer(TdiContext tdi, ReadOnlySpan<byte> rq)
    {
        var a = answer.AsSpan(0, SdteWriteMessage.ResponseSize);
        a.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(a[SdteWriteMessage.TdiId..], BinaryPrimitives.ReadUInt64LittleEndian(rq[SdteWriteMessage.TdiId..]));
        BinaryPrimitives.WriteUInt16LittleEndian(a[SdteWriteMessage.Status..], (ushort)WriteSdte(tdi, rq));
        return a.Length;
    }

    private SdteWriteStatus WriteSdte(TdiContext tdi, ReadOnlySpan<byte> rq)
    {
        if (BinaryPrimitives.ReadUInt64LittleEndian(rq[SdteWriteMessage.TdiId..]) != tdi.TdiId) return SdteWriteStatus.InvalidTdi;
        var sdte = rq.Slice(SdteWriteMessage.Sdte, Sdte.Size);
        if (rq.Slice(8, 8).ContainsAnyExcept((byte)0) || !Sdte.UsesOnlyGuestFields(sdte)) return SdteWriteStatus.Reserved;
        if (Sdte.IsZero(sdte))
        {
            if (tdi.State == TdiFirmwareState.Unbound) return SdteWriteStatus.TdiNotBound;
            deviceTable.Remove(tdi.Function.Value);
            return SdteWriteStatus.Success;
        }
        if (!Sdte.IsValid(sdte)) return SdteWriteStatus.Reserved;
        if (tdi.State != TdiFirmwareState.BindRun) return SdteWriteStatus.TdiNotBound;
        var entry = sdte.ToArray();
        Sdte.FillFirmwareFields(entry, tdi.Asid, tdi.GuestRid, tdi.Device.StreamId);
        deviceTable[tdi.Function.Value] = entry;
        return SdteWriteStatus.Success;
    }
}
