using System.Buffers.Binary;
using TsmLab.Platforms.Tdx.Abi;
using TsmLab.Spdm.Requester;
using TsmLab.Tdisp.Requester;
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

    /// <summary>
    /// Runs (or resumes) a relayed extension operation: on a first call checks the relay pages and
    /// whether the session needs a key update, then starts <paramref name="start"/>'s flow; on a
    /// resumed call delivers the host's answer from the response page. Returns TDX_SPDM_REQUEST with
    /// the flow's next DOE object in the request page, or the flow's status (committing only on
    /// success).
    /// </summary>
    private ulong Relayed(ref TdxRegisters r, SpdmObject s, ulong rspPa, ulong reqPa, Func<ValueTask<RelayOutcome>> start, bool keyRefreshCheck = true)
    {
        if (!Memory.TryPage(rspPa, out var rsp) || !Memory.TryPage(reqPa, out _)) { Abandon(); return TdxStatus.OperandInvalid; }
        if (pending is null)
        {
            if (keyRefreshCheck && s.Connected && KeyUpdateRequired(s)) return TdxStatus.SpdmSessionKeyRequireRefresh;
            pending = new PendingRelay(r.Leaf, s, start());
        }
        else if (!pending.Flow.IsCompleted && !s.Channel.Pending.IsEmpty)
        {
            pending.Exchanged++;
            s.Channel.Deliver(SpdmRelay.Answer(rsp));
        }
        while (!pending.Flow.IsCompleted)
        {
            var request = s.Channel.Pending;
            if (request.IsEmpty) break;
            if (request.Length <= SpdmRelay.PageSize)
            {
                Memory.Write(reqPa, request.Span);
                r.Rcx = (ulong)request.Length;
                return TdxStatus.SpdmRequest;
            }
            s.Channel.Deliver(default); // an object no page holds: the exchange fails
        }
        var done = pending;
        pending = null;
        s.MessagesSinceKeyUpdate += done.Exchanged;
        var outcome = Outcome(done);
        if (outcome.Status == TdxStatus.Success && outcome.Commit is not null) r.Rcx = outcome.Commit();
        return outcome.Status;
    }

    private static RelayOutcome Outcome(PendingRelay p)
    {
        if (!p.Flow.IsCompleted) return new RelayOutcome(TdxStatus.SpdmAuthFailed);
        try { return p.Flow.Result; }
        catch (Exception e) when (e is System.Security.Cryptography.CryptographicException or InvalidOperationException or ArgumentException)
        {
            return new RelayOutcome(TdxStatus.SpdmAuthFailed);
        }
    }

    /// <summary>Ends a flow the host abandoned: every exchange it still attempts gets no answer; nothing is committed.</summary>
    private void Abandon()
    {
        if (pending is not { } p) return;
        for (int i = 0; i < 64 && !p.Flow.IsCompleted && !p.Spdm.Channel.Pending.IsEmpty; i++) p.Spdm.Channel.Deliver(default);
        _ = Outcome(p);
        pending = null;
    }

    private void Traced(SpdmObject s, string step, string reason) =>
        trace?.Record(Tracing.TraceLayer.Firmware, Tracing.TraceLayer.Device, Tracing.TraceKind.Decision, step, "failed",
            new Tracing.TraceField("func_id", $"0x{s.FuncId:x}"), new Tracing.TraceField("reason", reason));

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
        s.Dispose();
        GivePages(s.Mt);
        r.Rcx = s.Mt;
        return TdxStatus.Success;
    }

    /// <summary>
    /// TDH.SPDM.CONNECT: RCX = spdm_id, RDX = PA(spdm_conf page), R8 = response page (device →
    /// module), R9 = request page (module → device), R10 = HPA_ARRAY_T(dev_info out); out RCX =
    /// request length on TDX_SPDM_REQUEST, else the dev_info length [TX5]. Over the relay: VCA,
    /// DIGESTS, CERTIFICATE, KEY_EXCHANGE + FINISH (verified with the chain's leaf key: the chain's
    /// trust is the host's and the TD's to decide from dev_info), then inside the session a signed
    /// GET_MEASUREMENTS (nonce derived per session and generation) and TDISP version and
    /// capabilities. dev_info is what these exchanges produced. Any failure ends the session:
    /// TDX_SPDM_AUTH_FAILED.
    /// </summary>
    private ulong SpdmConnect(ref TdxRegisters r)
    {
        if (Spdm(r.Rcx) is not { } s) return TdxStatus.SpdmEntryNotPresent;
        if (s.Connected) return TdxStatus.SpdmInvalidState;
        if (!Memory.TryGet(r.Rdx, SpdmConfigInfo.Size, out var conf)) return TdxStatus.OperandInvalid;
        uint cap = BinaryPrimitives.ReadUInt32LittleEndian(conf);
        if ((cap & ~(SpdmConfigInfo.CapHeartbeat | SpdmConfigInfo.CapKeyUpdate)) != 0) return TdxStatus.OperandInvalid;
        ulong devInfoOut = r.R10;
        return Relayed(ref r, s, r.R8, r.R9, () => ConnectAsync(s, cap, devInfoOut), keyRefreshCheck: false);
    }

    private async ValueTask<RelayOutcome> ConnectAsync(SpdmObject s, uint cap, ulong devInfoOut)
    {
        var q = s.Requester;
        var pf = TdiFunctionId.FromRid(TdispFuncId.Rid(s.FuncId));
        var res = await q.InitConnectionAsync().ConfigureAwait(false);
        if (res.Ok) res = await q.GetDigestsAsync().ConfigureAwait(false);
        if (res.Ok) res = await q.GetCertificateAsync().ConfigureAwait(false);
        if (res.Ok && !AcceptLeafKey(q)) res = SpdmRequesterResult.Fail("the leaf certificate has no usable key");
        TsmLab.Spdm.Session.SpdmSession? session = null;
        if (res.Ok)
        {
            (res, session) = await q.KeyExchangeAsync().ConfigureAwait(false);
            if (res.Ok && session is not null) res = await q.FinishAsync(session).ConfigureAwait(false);
        }
        if (!res.Ok || session is null)
        {
            Traced(s, "SPDM authentication", res.ToString());
            return new RelayOutcome(TdxStatus.SpdmAuthFailed);
        }
        var tdisp = new TdispRequester((IAsyncTdispTransport)new SecuredVdmTransport(q, session));
        var info = await DevInfoAsync(s, session, s.DevInfoGeneration).ConfigureAwait(false);
        var version = info is null ? default : await tdisp.GetVersionAsync(pf).ConfigureAwait(false);
        bool tdispOk = info is not null && version.IsSuccess && Array.IndexOf(version.Value!, TdispHeader.Version10) >= 0
            && (await tdisp.GetCapabilitiesAsync(pf).ConfigureAwait(false)).IsSuccess;
        if (!tdispOk || info is null)
        {
            Traced(s, info is null ? "SPDM measurements" : "TDISP", info is null ? "signed MEASUREMENTS did not verify" : "GET_VERSION or GET_CAPABILITIES failed");
            await q.EndSessionAsync(session).ConfigureAwait(false);
            return new RelayOutcome(TdxStatus.SpdmAuthFailed);
        }
        if (!FitsOut(devInfoOut, info.Length))
        {
            await q.EndSessionAsync(session).ConfigureAwait(false);
            return new RelayOutcome(TdxStatus.OperandInvalid);
        }
        return new RelayOutcome(TdxStatus.Success, () =>
        {
            WriteOut(devInfoOut, info);
            s.Session = session;
            s.Tdisp = tdisp;
            s.Connected = true;
            s.KeyUpdateCapable = (cap & SpdmConfigInfo.CapKeyUpdate) != 0;
            s.DevInfo = info;
            s.MessagesSinceKeyUpdate = 0;
            return (ulong)info.Length;
        });
    }

    /// <summary>The module takes the leaf key of the chain it read (TsmLab: the root is checked by the host and the TD on dev_info).</summary>
    private static bool AcceptLeafKey(SpdmRequester q)
    {
        using var leaf = SpdmCertificateChain.Leaf(q.CertificateChain.Span, q.Algorithms.HashSize);
        var key = leaf is null ? null : System.Security.Cryptography.X509Certificates.ECDsaCertificateExtensions.GetECDsaPublicKey(leaf);
        if (key is null) return false;
        if (q.AcceptResponderKey(key)) return true;
        key.Dispose();
        return false;
    }

    /// <summary>TDH.SPDM.DISCONNECT: RCX = spdm_id, RDX = response page, R8 = request page; out RCX = request length [TX5]. END_SESSION; refused while IDE streams exist.</summary>
    private ulong SpdmDisconnect(ref TdxRegisters r)
    {
        if (Spdm(r.Rcx) is not { } s) return TdxStatus.SpdmEntryNotPresent;
        if (!s.Connected) return TdxStatus.SpdmInvalidState;
        if (streams.Values.Any(x => x.Spdm == s)) return TdxStatus.SpdmHasActiveIdeStreams;
        return Relayed(ref r, s, r.Rdx, r.R8, async () =>
        {
            if (s.Session is { } session) await s.Requester.EndSessionAsync(session).ConfigureAwait(false);
            return new RelayOutcome(TdxStatus.Success, () => { s.Connected = false; s.DevInfo = []; s.Session = null; s.Tdisp = null; return 0; });
        }, keyRefreshCheck: false);
    }

    /// <summary>
    /// TDH.SPDM.MNG: RCX = spdm_id, RDX = op (HEARTBEAT 0, KEY_UPDATE 1, DEV_INFO_RECOLLECT 2),
    /// R8 = parameter page or −1, R9 = response page, R10 = request page, R11 = HPA_ARRAY_T output
    /// or −1; out RCX = length [TX5]. HEARTBEAT, KEY_UPDATE (UpdateAllKeys then VerifyNewKey) and a
    /// signed GET_MEASUREMENTS for a new dev_info, all in the session.
    /// </summary>
    private ulong SpdmMng(ref TdxRegisters r)
    {
        if (Spdm(r.Rcx) is not { } s) return TdxStatus.SpdmEntryNotPresent;
        if (!s.Connected || s.Session is not { } session) return TdxStatus.SpdmInvalidState;
        var op = (SpdmMngOp)r.Rdx;
        ulong output = r.R11;
        if (op is not (SpdmMngOp.Heartbeat or SpdmMngOp.KeyUpdate or SpdmMngOp.DevInfoRecollect)) return TdxStatus.OperandInvalid;
        if (op == SpdmMngOp.DevInfoRecollect && output == NoPage) return TdxStatus.OperandInvalid;
        return Relayed(ref r, s, r.R9, r.R10, async () =>
        {
            switch (op)
            {
                case SpdmMngOp.Heartbeat:
                    return (await s.Requester.HeartbeatAsync(session).ConfigureAwait(false)).Ok
                        ? new RelayOutcome(TdxStatus.Success, () => 0) : new RelayOutcome(TdxStatus.SpdmInvalidState);
                case SpdmMngOp.KeyUpdate:
                    return (await s.Requester.KeyUpdateAsync(session, 2).ConfigureAwait(false)).Ok
                        ? new RelayOutcome(TdxStatus.Success, () => { s.MessagesSinceKeyUpdate = 0; s.KeyUpdates++; return 0; })
                        : new RelayOutcome(TdxStatus.SpdmInvalidState);
                default:
                    var info = await DevInfoAsync(s, session, s.DevInfoGeneration + 1).ConfigureAwait(false);
                    if (info is null) return new RelayOutcome(TdxStatus.SpdmAuthFailed);
                    if (!FitsOut(output, info.Length)) return new RelayOutcome(TdxStatus.OperandInvalid);
                    return new RelayOutcome(TdxStatus.Success, () => { WriteOut(output, info); s.DevInfo = info; s.DevInfoGeneration++; return (ulong)info.Length; });
            }
        }, keyRefreshCheck: op != SpdmMngOp.KeyUpdate);
    }

    /// <summary>
    /// dev_info (DeviceAttestationInfo, TsmLab layout): cert_chain_length u32, the chain, vca_length u32,
    /// the VCA transcript, then the signed GET_MEASUREMENTS request (nonce derived per session and
    /// generation) and the device's MEASUREMENTS response, as exchanged in the session. Null when the
    /// measurements do not verify.
    /// </summary>
    private async ValueTask<byte[]?> DevInfoAsync(SpdmObject s, TsmLab.Spdm.Session.SpdmSession session, int generation)
    {
        var q = s.Requester;
        var nonce = Derive($"meas-nonce/{s.Id}/{generation}", 32);
        var res = await q.GetMeasurementsAsync(0xFF, signed: true, session: session, nonce: nonce).ConfigureAwait(false);
        if (!res.Ok) return null;
        var chain = q.CertificateChain.Span;
        var vca = q.Vca;
        var meas = q.MeasurementExchange;
        var b = new byte[4 + chain.Length + 4 + vca.Length + meas.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(b, (uint)chain.Length);
        chain.CopyTo(b.AsSpan(4));
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4 + chain.Length), (uint)vca.Length);
        vca.CopyTo(b, 8 + chain.Length);
        meas.CopyTo(b, 8 + chain.Length + vca.Length);
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
        if (s.Tdisp is not { } tdisp) return TdxStatus.SpdmInvalidState;
        return Relayed(ref r, s, r.R9, r.R10, async () =>
        {
            if (op == IdeKmOp.Stop)
            {
                if (!await tdisp.StopStreamAsync(stream.StreamId, 0, stream.KeySet).ConfigureAwait(false)) return new RelayOutcome(TdxStatus.SpdmInvalidState);
                return new RelayOutcome(TdxStatus.Success, () => { stream.KeysActive = false; return 0; });
            }
            int set = op == IdeKmOp.Setup ? 0 : 1 - stream.KeySet;
            int generation = s.KeyUpdates;
            if (!await tdisp.ProgramAndStartStreamAsync(stream.StreamId, 0, set, slot => Derive($"ide/{s.Id}/{stream.StreamId}/{set}/{generation}/{slot.Value}", 40)).ConfigureAwait(false))
                return new RelayOutcome(TdxStatus.SpdmInvalidState);
            return new RelayOutcome(TdxStatus.Success, () => { stream.KeysActive = true; stream.KeySet = set; return 0; });
        });
    }
}
