using System.Buffers.Binary;
using TsmLab.Platforms.Tdx.Abi;
using TsmLab.Tdisp.Wire;

namespace TsmLab.Platforms.Tdx.Firmware;

/// <summary>
/// The Gen-2 SPDM and IDE leaves [TX1,TX5,TX6]: TDH.SPDM.CREATE/DELETE/CONNECT/DISCONNECT/MNG and
/// TDH.IDE.STREAM.CREATE/BLOCK/DELETE/KM, registers as the Linux wrappers pass them, device
/// traffic through the host relay.
/// </summary>
public sealed partial class TdxModule
{
    private const ulong NoPage = ulong.MaxValue;

    /// <summary>A relayed leaf's exchange script: its status, and on success what to commit (returning the output RCX).</summary>
    private delegate ulong RelayScript(out Func<ulong>? commit);

    /// <summary>
    /// Runs (or resumes) a relayed extension operation: on a first call checks the relay pages and
    /// whether the session needs a key update; on a resumed call takes the host's answer from the
    /// response page; replays the script; returns TDX_SPDM_REQUEST with the next object in the
    /// request page, or the script's status (committing only on success).
    /// </summary>
    private ulong Relayed(ref TdxRegisters r, SpdmObject s, ulong rspPa, ulong reqPa, RelayScript script, bool keyRefreshCheck = true)
    {
        if (!Memory.TryPage(rspPa, out var rsp) || !Memory.TryPage(reqPa, out _)) { pending = null; return TdxStatus.OperandInvalid; }
        if (pending is null)
        {
            if (keyRefreshCheck && s.Connected && KeyUpdateRequired(s)) return TdxStatus.SpdmSessionKeyRequireRefresh;
            pending = new PendingRelay(r.Leaf, s.Id);
        }
        else pending.Answers.Add(SpdmRelay.ReadAnswer(rsp));
        relay.Begin(pending.Answers);
        ulong status = script(out var commit);
        if (relay.Pending is { } request)
        {
            Memory.Write(reqPa, request);
            r.Rcx = (ulong)request.Length;
            return TdxStatus.SpdmRequest;
        }
        int exchanged = pending.Answers.Count;
        pending = null;
        s.MessagesSinceKeyUpdate += exchanged;
        if (status == TdxStatus.Success && commit is not null) r.Rcx = commit();
        return status;
    }

    private bool KeyUpdateRequired(SpdmObject s) =>
        s.KeyUpdateCapable && Options.KeyUpdateInterval > 0 && s.MessagesSinceKeyUpdate >= Options.KeyUpdateInterval;

    private SpdmObject? Spdm(ulong id) => spdms.GetValueOrDefault(id);

    /// <summary>TDH.SPDM.CREATE: RCX = func_id, RDX = HPA_ARRAY_T(spdm_mt); out RCX = spdm_id [TX5].</summary>
    private ulong SpdmCreate(ref TdxRegisters r)
    {
        uint funcId = (uint)r.Rcx;
        if ((r.Rcx & ~0x1FF_FFFFul) != 0 || spdms.Values.Any(s => s.FuncId == funcId)) return TdxStatus.OperandInvalid | TdxStatus.OperandRcx;
        var st = TakePages(r.Rdx, SysInfo.SpdmMtPageCount, out _);
        if (st != TdxStatus.Success) return st;
        var s = new SpdmObject(nextId++, (uint)r.Rcx, r.Rdx);
        spdms[s.Id] = s;
        r.Rcx = s.Id;
        return TdxStatus.Success;
    }

    /// <summary>TDH.SPDM.DELETE: RCX = spdm_id, RDX = the HPA_ARRAY_T to release (must be the one CREATE took); out RCX = released HPA_ARRAY_T [TX5].</summary>
    private ulong SpdmDelete(ref TdxRegisters r)
    {
        if (Spdm(r.Rcx) is not { } s) return TdxStatus.SpdmEntryNotPresent;
        if (s.Connected) return TdxStatus.SpdmInvalidState;
        if (r.Rdx != s.Mt) return TdxStatus.OperandInvalid;
        spdms.Remove(s.Id);
        GivePages(s.Mt);
        r.Rcx = s.Mt;
        return TdxStatus.Success;
    }

    /// <summary>
    /// TDH.SPDM.CONNECT: RCX = spdm_id, RDX = PA(spdm_conf page), R8 = response page (device →
    /// module), R9 = request page (module → device), R10 = HPA_ARRAY_T(dev_info out); out RCX =
    /// request length on TDX_SPDM_REQUEST, else the dev_info length [TX5]. TDISP version and
    /// capabilities over the relay, then the device's certificate chain and a fresh signed
    /// measurement transcript (stand-in) as dev_info.
    /// </summary>
    private ulong SpdmConnect(ref TdxRegisters r)
    {
        if (Spdm(r.Rcx) is not { } s) return TdxStatus.SpdmEntryNotPresent;
        if (s.Connected) return TdxStatus.SpdmInvalidState;
        if (!Memory.TryGet(r.Rdx, SpdmConfigInfo.Size, out var conf)) return TdxStatus.OperandInvalid;
        uint cap = BinaryPrimitives.ReadUInt32LittleEndian(conf);
        if ((cap & ~(SpdmConfigInfo.CapHeartbeat | SpdmConfigInfo.CapKeyUpdate)) != 0) return TdxStatus.OperandInvalid;
        ulong devInfoOut = r.R10;
        var pf = TdiFunctionId.FromRid(TdispFuncId.Rid(s.FuncId));
        return Relayed(ref r, s, r.R8, r.R9, (out Func<ulong>? commit) =>
        {
            commit = null;
            var version = requester.GetVersion(pf);
            if (!version.IsSuccess || Array.IndexOf(version.Value!, TdispHeader.Version10) < 0) return TdxStatus.SpdmAuthFailed;
            if (!requester.GetCapabilities(pf).IsSuccess) return TdxStatus.SpdmAuthFailed;
            var info = DevInfo(s, s.DevInfoGeneration);
            if (info is null) return TdxStatus.SpdmAuthFailed;
            if (!FitsOut(devInfoOut, info.Length)) return TdxStatus.OperandInvalid;
            commit = () =>
            {
                WriteOut(devInfoOut, info);
                s.Connected = true;
                s.KeyUpdateCapable = (cap & SpdmConfigInfo.CapKeyUpdate) != 0;
                s.DevInfo = info;
                s.MessagesSinceKeyUpdate = 0;
                return (ulong)info.Length;
            };
            return TdxStatus.Success;
        }, keyRefreshCheck: false);
    }

    /// <summary>TDH.SPDM.DISCONNECT: RCX = spdm_id, RDX = response page, R8 = request page; out RCX = request length [TX5]. Refused while IDE streams exist.</summary>
    private ulong SpdmDisconnect(ref TdxRegisters r)
    {
        if (Spdm(r.Rcx) is not { } s) return TdxStatus.SpdmEntryNotPresent;
        if (!s.Connected) return TdxStatus.SpdmInvalidState;
        if (streams.Values.Any(x => x.Spdm == s)) return TdxStatus.SpdmHasActiveIdeStreams;
        return Relayed(ref r, s, r.Rdx, r.R8, (out Func<ulong>? commit) =>
        {
            // END_SESSION is an SPDM message: nothing crosses until the secured session is modelled.
            commit = () => { s.Connected = false; s.DevInfo = []; return 0; };
            return TdxStatus.Success;
        }, keyRefreshCheck: false);
    }

    /// <summary>
    /// TDH.SPDM.MNG: RCX = spdm_id, RDX = op (HEARTBEAT 0, KEY_UPDATE 1, DEV_INFO_RECOLLECT 2),
    /// R8 = parameter page or −1, R9 = response page, R10 = request page, R11 = HPA_ARRAY_T output
    /// or −1; out RCX = length [TX5]. HEARTBEAT and KEY_UPDATE are SPDM messages, so no object
    /// crosses yet; KEY_UPDATE resets the session's message count.
    /// </summary>
    private ulong SpdmMng(ref TdxRegisters r)
    {
        if (Spdm(r.Rcx) is not { } s) return TdxStatus.SpdmEntryNotPresent;
        if (!s.Connected) return TdxStatus.SpdmInvalidState;
        var op = (SpdmMngOp)r.Rdx;
        ulong output = r.R11;
        if (op is not (SpdmMngOp.Heartbeat or SpdmMngOp.KeyUpdate or SpdmMngOp.DevInfoRecollect)) return TdxStatus.OperandInvalid;
        if (op == SpdmMngOp.DevInfoRecollect && output == NoPage) return TdxStatus.OperandInvalid;
        return Relayed(ref r, s, r.R9, r.R10, (out Func<ulong>? commit) =>
        {
            commit = null;
            switch (op)
            {
                case SpdmMngOp.Heartbeat:
                    commit = () => 0;
                    return TdxStatus.Success;
                case SpdmMngOp.KeyUpdate:
                    commit = () => { s.MessagesSinceKeyUpdate = 0; s.KeyUpdates++; return 0; };
                    return TdxStatus.Success;
                default:
                    var info = DevInfo(s, s.DevInfoGeneration + 1);
                    if (info is null) return TdxStatus.SpdmAuthFailed;
                    if (!FitsOut(output, info.Length)) return TdxStatus.OperandInvalid;
                    commit = () => { WriteOut(output, info); s.DevInfo = info; s.DevInfoGeneration++; return (ulong)info.Length; };
                    return TdxStatus.Success;
            }
        }, keyRefreshCheck: op != SpdmMngOp.KeyUpdate);
    }

    /// <summary>dev_info (DeviceAttestationInfo): the chain and a measurement transcript over a nonce the module derives per session and generation.</summary>
    private byte[]? DevInfo(SpdmObject s, int generation)
    {
        if (standIn is null) return null;
        var chain = standIn.CertificateChain(s.FuncId);
        var meas = chain is null ? null : standIn.SignedMeasurements(s.FuncId, Derive($"meas-nonce/{s.Id}/{generation}", 32));
        if (chain is null || meas is null) return null;
        var b = new byte[4 + chain.Length + meas.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(b, (uint)chain.Length);
        chain.CopyTo(b, 4);
        meas.CopyTo(b, 4 + chain.Length);
        return b;
    }

    private bool FitsOut(ulong array, int length)
    {
        var pages = new List<ulong>();
        return HpaArray.IsWellFormed(array) && TryPages(array, pages) && (long)pages.Count * 4096 >= length && pages.Count <= SysInfo.SpdmMaxDevInfoPages;
    }

    /// <summary>
    /// TDH.IDE.STREAM.CREATE: RCX = stream_info (bits 7:0 root-port devfn, bit 8 selective), RDX =
    /// spdm_id, R8 = HPA_ARRAY_T(stream_mt), R9 = stream_ctrl, R10/R11 = RID association 1/2, R12–R14
    /// = address association 1/2/3; out RCX = stream_id, RDX = rp_ide_id [TX6]. Only selective
    /// streams are modelled; the root port's registers are the module's (no device traffic).
    /// </summary>
    private ulong IdeStreamCreate(ref TdxRegisters r)
    {
        if ((r.Rcx & ~0x1FFul) != 0 || (r.Rcx & IdeStreamInfo.Selective) == 0) return TdxStatus.OperandInvalid | TdxStatus.OperandRcx;
        if (Spdm(r.Rdx) is not { } s) return TdxStatus.SpdmEntryNotPresent;
        if (!s.Connected) return TdxStatus.SpdmInvalidState;
        int free = Enumerable.Range(0, Options.IdeStreams).FirstOrDefault(i => !streams.ContainsKey((ulong)i), -1);
        if (free < 0) return TdxStatus.IdeStreamNotFree;
        var st = TakePages(r.R8, SysInfo.IdeMtPageCount, out _);
        if (st != TdxStatus.Success) return st;
        var stream = new IdeStreamObject((ulong)free, s, (byte)free, (byte)r.Rcx, r.R8);
        streams[stream.Id] = stream;
        r.Rcx = stream.Id;
        r.Rdx = stream.Id;
        return TdxStatus.Success;
    }

    private ulong FindStream(ulong spdmId, ulong streamId, out IdeStreamObject? stream)
    {
        stream = null;
        if (Spdm(spdmId) is not { } s) return TdxStatus.SpdmEntryNotPresent;
        if (!streams.TryGetValue(streamId, out var x) || x.Spdm != s) return TdxStatus.OperandInvalid | TdxStatus.OperandRcx;
        stream = x;
        return TdxStatus.Success;
    }

    /// <summary>TDH.IDE.STREAM.BLOCK: RCX = spdm_id, RDX = stream_id [TX6]. Refused while a TDI uses the stream.</summary>
    private ulong IdeStreamBlock(ref TdxRegisters r)
    {
        var st = FindStream(r.Rcx, r.Rdx, out var stream);
        if (st != TdxStatus.Success) return st;
        if (devifs.Values.Any(d => d.Stream == stream)) return TdxStatus.IdeStreamHasDeviceInterfaces;
        stream!.Blocked = true;
        return TdxStatus.Success;
    }

    /// <summary>TDH.IDE.STREAM.DELETE: RCX = spdm_id, RDX = stream_id, R8 = the HPA_ARRAY_T to release; out RCX = released HPA_ARRAY_T [TX6].</summary>
    private ulong IdeStreamDelete(ref TdxRegisters r)
    {
        var st = FindStream(r.Rcx, r.Rdx, out var stream);
        if (st != TdxStatus.Success) return st;
        if (devifs.Values.Any(d => d.Stream == stream)) return TdxStatus.IdeStreamHasDeviceInterfaces;
        if (!stream!.Blocked) return TdxStatus.IdeStreamNotBlocked;
        if (r.R8 != stream.Mt) return TdxStatus.OperandInvalid;
        streams.Remove(stream.Id);
        GivePages(stream.Mt);
        r.Rcx = stream.Mt;
        return TdxStatus.Success;
    }

    /// <summary>
    /// TDH.IDE.STREAM.KM: RCX = spdm_id, RDX = stream_id, R8 = op (SETUP 0, REFRESH 1, STOP 2),
    /// R9 = response page, R10 = request page; out RCX = request length [TX6]. IDE_KM KEY_PROG and
    /// K_SET_GO for all six sub-streams (SETUP: key set 0; REFRESH: the other set), or K_SET_STOP.
    /// </summary>
    private ulong IdeStreamKm(ref TdxRegisters r)
    {
        var st = FindStream(r.Rcx, r.Rdx, out var stream);
        if (st != TdxStatus.Success) return st;
        var op = (IdeKmOp)r.R8;
        if (op is not (IdeKmOp.Setup or IdeKmOp.Refresh or IdeKmOp.Stop)) return TdxStatus.OperandInvalid;
        if (stream!.Blocked && op != IdeKmOp.Stop) return TdxStatus.IdeStreamBlocked;
        if ((op == IdeKmOp.Setup) == stream.KeysActive) return TdxStatus.SpdmInvalidState;
        if (op != IdeKmOp.Setup && !stream.KeysActive) return TdxStatus.SpdmInvalidState;
        var s = stream.Spdm;
        return Relayed(ref r, s, r.R9, r.R10, (out Func<ulong>? commit) =>
        {
            commit = null;
            if (op == IdeKmOp.Stop)
            {
                bool ok = true;
                foreach (var dir in (ReadOnlySpan<IdeKeyDirection>)[IdeKeyDirection.Receive, IdeKeyDirection.Transmit])
                    foreach (var ss in (ReadOnlySpan<IdeSubStream>)[IdeSubStream.PostedRequest, IdeSubStream.NonPostedRequest, IdeSubStream.Completion])
                        ok &= requester.KeySetStop(stream.StreamId, IdeKeySubStream.Create(stream.KeySet, dir, ss), 0).Answered;
                if (!ok) return TdxStatus.SpdmInvalidState;
                commit = () => { stream.KeysActive = false; return 0; };
                return TdxStatus.Success;
            }
            int set = op == IdeKmOp.Setup ? 0 : 1 - stream.KeySet;
            int generation = s.KeyUpdates;
            if (!requester.ProgramAndStartStream(stream.StreamId, 0, set, slot => Derive($"ide/{s.Id}/{stream.StreamId}/{set}/{generation}/{slot.Value}", 40)))
                return TdxStatus.SpdmInvalidState;
            commit = () => { stream.KeysActive = true; stream.KeySet = set; return 0; };
            return TdxStatus.Success;
        });
    }
}
