using System.Buffers.Binary;
using System.Security.Cryptography;
using TsmLab.Platforms.Tdx.Abi;
using TsmLab.Tdisp.Wire;

namespace TsmLab.Platforms.Tdx.Firmware;

/// <summary>
/// Binding a TDI to a TD, its private MMIO and its trusted DMA: not public for Gen-2, so these
/// leaves take the Gen-1 TDX-IO numbers [TX12] with registers shaped after Gen-1 [TX14] and Xu
/// Yilun's description of Gen-2 bind ("one SEAMCALL: stream id, devif id = host BDF, TDR PA,
/// DEVIFCS" [TX16]); TDH.TDI.START is a TsmLab number. The TDI is named by its host func_id and
/// the TD's TDR, never by a guest RID. docs/tdx.md labels each one.
/// </summary>
public sealed partial class TdxModule
{
    private TdxTd? Td(ulong tdr) => tds.GetValueOrDefault(tdr);

    /// <summary>
    /// TDH.DEVIF.CREATE (Gen-1 number; TsmLab registers): RCX = spdm_id, RDX = func_id, R8 = TDR
    /// PA, R9 = HPA_ARRAY_T(devifcs), R10 = response page, R11 = request page, R12 = IDE stream_id,
    /// R13 = HPA_ARRAY_T(report out); out RCX = request length, or the report length. Over the
    /// relay: GET_DEVICE_INTERFACE_STATE (must be CONFIG_UNLOCKED), LOCK_INTERFACE (NO_FW_UPDATE,
    /// the stream as default), GET_DEVICE_INTERFACE_REPORT; the module keeps the report, its
    /// SHA-384 and a fresh bind session id for the TD.
    /// </summary>
    private ulong DevifCreate(ref TdxRegisters r)
    {
        if (Spdm(r.Rcx) is not { } s) return TdxStatus.SpdmEntryNotPresent;
        if (!s.Connected) return TdxStatus.SpdmInvalidState;
        uint funcId = (uint)r.Rdx;
        if ((r.Rdx & ~0x1FF_FFFFul) != 0 || devifs.ContainsKey(funcId)) return TdxStatus.OperandInvalid;
        if (Td(r.R8) is not { } td) return TdxStatus.OperandInvalid | TdxStatus.OperandTdr;
        if ((td.ConfigFlags & TdcsField.ConfigFlagTdxConnect) == 0) return TdxStatus.OperandInvalid | TdxStatus.OperandTdr;
        if (!streams.TryGetValue(r.R12, out var stream) || stream.Spdm != s) return TdxStatus.OperandInvalid;
        if (stream.Blocked) return TdxStatus.IdeStreamBlocked;
        if (!stream.KeysActive) return TdxStatus.SpdmInvalidState;
        ulong cs = r.R9, reportOut = r.R13;
        var csPages = new List<ulong>();
        if (!HpaArray.IsWellFormed(cs) || !TryPages(cs, csPages)) return TdxStatus.OperandInvalid;
        if (csPages.Any(ownedPages.Contains) || csPages.Distinct().Count() != csPages.Count) return TdxStatus.PageMetadataIncorrect;
        var id = TdiFunctionId.FromRid(TdispFuncId.Rid(funcId));
        if (s.Tdisp is not { } requester) return TdxStatus.SpdmInvalidState;
        return Relayed(ref r, s, r.R10, r.R11, async () =>
        {
            var state = await requester.GetStateAsync(id).ConfigureAwait(false);
            if (!state.IsSuccess) return new RelayOutcome(TdxStatus.DevifTdispErrorState);
            if (state.Value != TdiState.ConfigUnlocked) return new RelayOutcome(TdxStatus.DevifTdispInvalidState);
            var nonce = await requester.LockInterfaceAsync(id, new LockInterfaceParameters(LockInterfaceFlags.NoFwUpdate, stream.StreamId, 0)).ConfigureAwait(false);
            if (!nonce.IsSuccess) return new RelayOutcome(TdxStatus.DevifTdispErrorState);
            var report = await requester.GetInterfaceReportAsync(id).ConfigureAwait(false);
            if (!report.IsSuccess)
            {
                await requester.StopInterfaceAsync(id).ConfigureAwait(false);
                return new RelayOutcome(TdxStatus.DevifTdispErrorState);
            }
            var bytes = report.Value!.Bytes;
            if (!FitsOut(reportOut, bytes.Length))
            {
                await requester.StopInterfaceAsync(id).ConfigureAwait(false);
                return new RelayOutcome(TdxStatus.OperandInvalid);
            }
            return new RelayOutcome(TdxStatus.Success, () =>
            {
                foreach (var p in csPages) ownedPages.Add(p);
                WriteOut(reportOut, bytes);
                var devif = new DeviceInterface(funcId, td, s, stream, cs)
                {
                    StartNonce = nonce.Value!,
                    Report = bytes,
                    ReportHash = SHA384.HashData(bytes),
                    Ranges = [.. report.Value.Ranges],
                    BindSessionId = BinaryPrimitives.ReadUInt64LittleEndian(Derive($"bind-session/{funcId:x}/{nextId++}", 8)),
                    State = TdiState.ConfigLocked,
                };
                devifs.Add(devif.FuncId, devif);
                return (ulong)bytes.Length;
            });
        });
    }

    /// <summary>
    /// TDH.DEVIF.REMOVE (Gen-1 number; TsmLab registers): RCX = spdm_id, RDX = func_id, R8 = TDR PA,
    /// R9 = response page, R10 = request page; out RCX = request length, or the released
    /// HPA_ARRAY_T(devifcs). Refused while private MMIO is mapped or a trusted-DMA entry exists
    /// [TX13]; STOP_INTERFACE over the relay.
    /// </summary>
    private ulong DevifRemove(ref TdxRegisters r)
    {
        if (Spdm(r.Rcx) is not { } s) return TdxStatus.SpdmEntryNotPresent;
        if (FindDevif((uint)r.Rdx, r.R8) is not { } d || d.Spdm != s) return TdxStatus.DevifInvalid;
        if (d.MappedPages > 0) return TdxStatus.DevifHasMappedMmio;
        if (dmar.Any(e => e.Devif == d)) return TdxStatus.DevifHasMappedDma;
        var id = TdiFunctionId.FromRid(TdispFuncId.Rid(d.FuncId));
        if (s.Tdisp is not { } requester) return TdxStatus.SpdmInvalidState;
        return Relayed(ref r, s, r.R9, r.R10, async () =>
        {
            if (!(await requester.StopInterfaceAsync(id).ConfigureAwait(false)).IsSuccess) return new RelayOutcome(TdxStatus.DevifTdispErrorState);
            return new RelayOutcome(TdxStatus.Success, () =>
            {
                devifs.Remove(d.FuncId);
                GivePages(d.Cs);
                return d.Cs;
            });
        });
    }

    /// <summary>
    /// TDH.TDI.START (TsmLab number 141; named by the Gen-2 guest code [TX17,TX18]): RCX = spdm_id,
    /// RDX = func_id, R8 = TDR PA, R9 = response page, R10 = request page. Only after the TD asked
    /// for it with TDG.TDI.START and the right bind session id; START_INTERFACE with the lock's nonce.
    /// </summary>
    private ulong TdiStart(ref TdxRegisters r)
    {
        if (Spdm(r.Rcx) is not { } s) return TdxStatus.SpdmEntryNotPresent;
        if (FindDevif((uint)r.Rdx, r.R8) is not { } d || d.Spdm != s) return TdxStatus.DevifInvalid;
        if (d.State != TdiState.ConfigLocked || !d.StartRequested) return TdxStatus.DevifTdispInvalidState;
        var id = TdiFunctionId.FromRid(TdispFuncId.Rid(d.FuncId));
        if (s.Tdisp is not { } requester) return TdxStatus.SpdmInvalidState;
        return Relayed(ref r, s, r.R9, r.R10, async () =>
        {
            if (!(await requester.StartInterfaceAsync(id, d.StartNonce).ConfigureAwait(false)).IsSuccess) return new RelayOutcome(TdxStatus.DevifTdispErrorState);
            return new RelayOutcome(TdxStatus.Success, () => { d.State = TdiState.Run; return 0; });
        });
    }

    /// <summary>TDH.DEVIF.MT.RD (Gen-1 number; TsmLab registers): RCX = func_id, RDX = TDR PA; out RCX = the TDI's TDISP state as the module holds it.</summary>
    private ulong DevifMtRead(ref TdxRegisters r)
    {
        if (FindDevif((uint)r.Rcx, r.Rdx) is not { } d) return TdxStatus.DevifInvalid;
        r.Rcx = (ulong)d.State;
        return TdxStatus.Success;
    }

    /// <summary>
    /// TDH.DMAR.ADD (Gen-1 number; TsmLab registers, Gen-1 writes 8 PASID-entry qwords [TX14]):
    /// RCX = func_id, RDX = TDR PA, R8 = iommu_id. Creates the TDI's trusted-DMA entry, not present
    /// until the TD accepts it (TDG.DMAR.ACCEPT).
    /// </summary>
    private ulong DmarAdd(ref TdxRegisters r)
    {
        if (FindDevif((uint)r.Rcx, r.Rdx) is not { } d) return TdxStatus.DevifInvalid;
        ulong iommuId = r.R8;
        if (iommus.FirstOrDefault(i => i.Id == iommuId) is not { } iommu) return TdxStatus.IommuInvalidState;
        if (dmar.Any(e => e.Devif == d)) return TdxStatus.OperandBusy;
        dmar.Add(new DmarEntry(d, iommu));
        return TdxStatus.Success;
    }

    /// <summary>TDH.DMAR.REMOVE (Gen-1 number; TsmLab registers): RCX = func_id, RDX = TDR PA.</summary>
    private ulong DmarRemove(ref TdxRegisters r)
    {
        if (FindDevif((uint)r.Rcx, r.Rdx) is not { } d) return TdxStatus.DevifInvalid;
        return dmar.RemoveAll(e => e.Devif == d) > 0 ? TdxStatus.Success : TdxStatus.DevifInvalid;
    }

    /// <summary>
    /// TDH.MMIO.MAP (Gen-1 number and registers [TX14]): RCX = gpa_page_info (level in bits 2:0,
    /// GPA page in bits 51:12), RDX = TDR PA, R8 = mmio_pa. Maps one 4 KiB device page into the
    /// TD's secure EPT, pending acceptance; only a page of a TEE range of a report of a TDI bound
    /// to that TD (TDX_OPERAND_INVALID otherwise).
    /// </summary>
    private ulong MmioMap(ref TdxRegisters r)
    {
        if ((r.Rcx & 7) != 0 || (r.Rcx & 0xFF8) != 0) return TdxStatus.OperandInvalid | TdxStatus.OperandRcx;
        ulong gpa = r.Rcx & 0x000F_FFFF_FFFF_F000, pa = r.R8;
        if (Td(r.Rdx) is not { } td) return TdxStatus.OperandInvalid | TdxStatus.OperandTdr;
        if ((pa & 0xFFF) != 0) return TdxStatus.OperandInvalid;
        DeviceInterface? owner = null;
        foreach (var d in devifs.Values)
            if (d.Td == td && d.State != TdiState.Error && InTeeRange(d, pa)) { owner = d; break; }
        if (owner is null) return TdxStatus.OperandInvalid;
        if (privateMmio.ContainsKey((td.Tdr, gpa)) || mappedMmioPages.ContainsKey(pa)) return TdxStatus.EptEntryStateIncorrect;
        privateMmio[(td.Tdr, gpa)] = new PrivateMmio(gpa, pa, owner);
        mappedMmioPages.Set(pa, true);
        owner.MappedPages++;
        return TdxStatus.Success;
    }

    private static bool InTeeRange(DeviceInterface d, ulong pa)
    {
        foreach (var range in d.Ranges)
            if ((range.Attributes & MmioRangeAttributes.IsNonTeeMem) == 0 && pa >= range.FirstPage && (pa - range.FirstPage) / 4096 < range.NumberOfPages)
                return true;
        return false;
    }

    /// <summary>TDH.MMIO.BLOCK (Gen-1): RCX = gpa_page_info, RDX = TDR PA.</summary>
    private ulong MmioBlock(ref TdxRegisters r)
    {
        if (Td(r.Rdx) is not { } td) return TdxStatus.OperandInvalid | TdxStatus.OperandTdr;
        if (!privateMmio.TryGetValue((td.Tdr, r.Rcx & 0x000F_FFFF_FFFF_F000), out var m)) return TdxStatus.EptWalkFailed;
        m.Blocked = true;
        return TdxStatus.Success;
    }

    /// <summary>TDH.MMIO.UNMAP (Gen-1): RCX = gpa_page_info, RDX = TDR PA; the entry must be blocked first.</summary>
    private ulong MmioUnmap(ref TdxRegisters r)
    {
        if (Td(r.Rdx) is not { } td) return TdxStatus.OperandInvalid | TdxStatus.OperandTdr;
        var key = (td.Tdr, r.Rcx & 0x000F_FFFF_FFFF_F000);
        if (!privateMmio.TryGetValue(key, out var m)) return TdxStatus.EptWalkFailed;
        if (!m.Blocked) return TdxStatus.EptEntryStateIncorrect;
        privateMmio.Remove(key);
        mappedMmioPages.Remove(m.Pa);
        m.Devif.MappedPages--;
        return TdxStatus.Success;
    }
}
