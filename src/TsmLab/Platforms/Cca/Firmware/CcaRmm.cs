using System.Buffers.Binary;
using TsmLab.Hardware;
using System.Security.Cryptography;
using TsmLab.Platforms.Cca.Abi;

namespace TsmLab.Platforms.Cca.Firmware;

/// <summary>
/// The Realm Management Monitor, as far as device assignment needs it (platforms-and-tdisp.md
/// §2.3-2.5): the RMI calls the host makes by SMC (FID in x0, arguments in x1..x6, status back in
/// x0 and a value in x1) and the RSI calls a realm makes (<c>Rsi</c>).
/// It owns PDEVs, VDEVs, realms and RECs and has no DOE of its own: its SPDM requester (and TDISP /
/// IDE_KM inside the SPDM session) hands each DOE object to the host in the COMMUNICATE granule and
/// resumes when the host calls COMMUNICATE again with the device's answer. It keeps the evidence
/// objects and their digests a realm checks. Every call answers a status; bad input changes nothing.
/// </summary>
public sealed partial class CcaRmm : IPlatformFirmware
{
    private readonly PhysicalMemory memory;
    private Tracing.TraceLog? trace;
    private readonly Dictionary<ulong, RmmPdev> pdevs = new();
    /// <summary>The pdev_ids in use (PDEV_CREATE refuses a second PDEV for one device without scanning every PDEV).</summary>
    private readonly HashSet<ulong> pdevIds = [];
    private readonly Dictionary<ulong, RmmVdev> vdevs = new();
    private readonly Dictionary<ulong, RmmRealm> realms = new();
    private readonly Dictionary<ulong, RmmRec> recs = new();
    /// <summary>
    /// Guards all RMM state (the object tables, every object's state, the argument buffer, the
    /// RMI log): every RMI and RSI call runs under it, so concurrent SMCs from different CPUs
    /// are safe. TsmLab simplification: the RMM's per-granule locks are not modelled, so the RMM
    /// runs one call at a time (calls on different PDEVs do not overlap inside the firmware).
    /// </summary>
    private readonly object gate = new();

    /// <summary>The RMM of a machine with <paramref name="memory"/>; it reaches devices only through the host's COMMUNICATE relay.</summary>
    public CcaRmm(PhysicalMemory memory, RmmOptions? options = null)
    {
        this.memory = memory;
        Options = options ?? new RmmOptions();
    }

    /// <inheritdoc/>
    public string Name => "RMM";

    /// <inheritdoc/>
    public void AttachTrace(Tracing.TraceLog? log) => trace = log;

    public RmmOptions Options { get; }


    /// <summary>RMI calls served (a count and the last 4096 function ids), for tracing and tests.</summary>
    public RmiCallLog RmiLog { get; } = new();


    /// <summary>
    /// One RMI call: <paramref name="x"/>[0] is the FID, [1..] the arguments; on return [0] holds
    /// the <see cref="RmiStatus"/> and [1] the output value where the call has one.
    /// </summary>
    public void Rmi(Span<ulong> x)
    {
        lock (gate) RmiLocked(x);
    }

    private void RmiLocked(Span<ulong> x)
    {
        if (x.Length < 8) throw new ArgumentException("an SMC carries x0..x7", nameof(x));
        ulong fid = x[0];
        RmiLog.Add(fid);
        var log = trace;
        long seq = log?.Reserve() ?? 0;
        x.Slice(1, args.Length).CopyTo(args);
        x[1] = 0;
        Span<ulong> ret = stackalloc ulong[3];
        ret.Clear();
        var status = RmiStatus.ErrorNotSupported;
        foreach (var c in RmiCommands)
            if (c.Fid == fid) { status = c.Handler(this, args, ret); break; }
        x[0] = (ulong)status;
        ret.CopyTo(x[1..4]);
        log?.Record(seq, Tracing.TraceLayer.Kernel, Tracing.TraceLayer.Firmware, Tracing.TraceKind.FirmwareCall, Abi.CcaCalls.NameOf(fid),
            ((RmiStatus)x[0]).ToString(), new("fid", $"0x{fid:x}"), new("x1", $"0x{args[0]:x}"), new("x2", $"0x{args[1]:x}"), new("out_x1", $"0x{x[1]:x}"));
    }

    private readonly ulong[] args = new ulong[7];

    /// <summary>An RMI handler: arguments x1..x7 in <c>a</c>, output values for x1..x3 in <c>ret</c> (cleared before the call).</summary>
    private delegate RmiStatus RmiHandler(CcaRmm rmm, ReadOnlySpan<ulong> a, Span<ulong> ret);

    /// <summary>One RMI command the RMM serves: its FID (named in <see cref="Abi.CcaCalls"/>) and handler.</summary>
    private sealed record RmiCommand(ulong Fid, RmiHandler Handler);

    /// <summary>The RMI commands, one row each; any other FID is RMI_ERROR_NOT_SUPPORTED.</summary>
    private static readonly RmiCommand[] RmiCommands =
    [
        new(Abi.Rmi.RealmCreate, static (r, a, ret) => r.RealmCreate(a[0])),
        new(Abi.Rmi.RecCreate, static (r, a, ret) => r.RecCreate(a[0], a[1], a[2])),
        new(Abi.Rmi.RecEnter, static (r, a, ret) => r.RecEnter(a[0], a[1], out ret[0])),
        new(Abi.Rmi.PdevCreate, static (r, a, ret) => r.PdevCreate(a[0], a[1])),
        new(Abi.Rmi.PdevCommunicate, static (r, a, ret) => r.PdevCommunicate(a[0], a[1])),
        new(Abi.Rmi.PdevSetPubkey, static (r, a, ret) => r.PdevSetPubkey(a[0], a[1])),
        new(Abi.Rmi.PdevGetState, static (r, a, ret) => r.PdevGetState(a[0], out ret[0])),
        new(Abi.Rmi.PdevStop, static (r, a, ret) => r.PdevStop(a[0])),
        new(Abi.Rmi.PdevAbort, static (r, a, ret) => r.PdevAbort(a[0])),
        new(Abi.Rmi.PdevDestroy, static (r, a, ret) => r.PdevDestroy(a[0])),
        new(Abi.Rmi.VdevCreate, static (r, a, ret) => r.VdevCreate(a[0], a[1], a[2], a[3])),
        new(Abi.Rmi.VdevCommunicate, static (r, a, ret) => r.VdevCommunicate(a[0], a[1], a[2], a[3])),
        new(Abi.Rmi.VdevGetState, static (r, a, ret) => r.VdevGetState(a[0], out ret[0])),
        new(Abi.Rmi.VdevLock, static (r, a, ret) => r.VdevRequest(a[0], a[1], a[2], DeviceOp.Lock)),
        new(Abi.Rmi.VdevStart, static (r, a, ret) => r.VdevRequest(a[0], a[1], a[2], DeviceOp.Start)),
        new(Abi.Rmi.VdevUnlock, static (r, a, ret) => r.VdevRequest(a[0], a[1], a[2], DeviceOp.Unlock)),
        new(Abi.Rmi.VdevGetInterfaceReport, static (r, a, ret) => r.VdevRequest(a[0], a[1], a[2], DeviceOp.GetReport)),
        new(Abi.Rmi.VdevGetMeasurements, static (r, a, ret) => r.VdevGetMeasurements(a[0], a[1], a[2], a[3])),
        new(Abi.Rmi.VdevAbort, static (r, a, ret) => r.VdevAbort(a[0], a[1], a[2])),
        new(Abi.Rmi.VdevDestroy, static (r, a, ret) => r.VdevDestroy(a[0], a[1], a[2])),
        new(Abi.Rmi.RttDevMap, static (r, a, ret) => r.RttDevMap(a[0], a[1], a[2], a[3], a[4], a[5], out ret[0])),
        new(Abi.Rmi.RttDevUnmap, static (r, a, ret) => r.RttDevUnmap(a[0], a[1], a[2], a[3], a[4], out ret[0], out ret[1], out ret[2])),
        new(Abi.Rmi.RttDevValidate, static (r, a, ret) => r.RttDevValidate(a[0], a[1], a[2], a[3], out ret[0])),
    ];

    /// <summary>TsmLab: attaches the realm's memory (the RSI calls read and write it by IPA).</summary>
    public bool AttachRealmMemory(ulong rd, IRealmMemory realmMemory)
    {
        lock (gate) return AttachRealmMemoryLocked(rd, realmMemory);
    }

    private bool AttachRealmMemoryLocked(ulong rd, IRealmMemory realmMemory)
    {
        if (!realms.TryGetValue(rd, out var r)) return false;
        r.Memory = realmMemory;
        return true;
    }

    // ---- realms and RECs (RMM 1.0; params are not modelled) ----

    private RmiStatus RealmCreate(ulong rd)
    {
        if (!IsFreeGranule(rd)) return RmiStatus.ErrorInput;
        realms[rd] = new RmmRealm(rd);
        return RmiStatus.Success;
    }

    /// <summary>RMI_REC_CREATE(rd, rec, params) [TR1]: the REC's parameters page must be readable (its contents are not modelled).</summary>
    private RmiStatus RecCreate(ulong rd, ulong rec, ulong paramsPa)
    {
        if (!IsFreeGranule(rec) || !memory.TryPage(paramsPa, out _)) return RmiStatus.ErrorInput;
        if (!realms.TryGetValue(rd, out var realm)) return RmiStatus.ErrorRealm;
        recs[rec] = new RmmRec(rec, realm);
        return RmiStatus.Success;
    }

    private bool IsFreeGranule(ulong pa) =>
        memory.TryPage(pa, out _) && !pdevs.ContainsKey(pa) && !vdevs.ContainsKey(pa) && !realms.ContainsKey(pa) && !recs.ContainsKey(pa);

    // ---- PDEV ----

    private RmiStatus PdevCreate(ulong pa, ulong paramsPa)
    {
        if (!IsFreeGranule(pa) || !memory.TryPage(paramsPa, out var p)) return RmiStatus.ErrorInput;
        ulong pdevId = BinaryPrimitives.ReadUInt64LittleEndian(p[Abi.Rmi.PdevParamsPdevId..]);
        ulong hash = p[Abi.Rmi.PdevParamsHashAlgo];
        ulong ridBase = BinaryPrimitives.ReadUInt32LittleEndian(p[Abi.Rmi.PdevParamsRidBase..]);
        ulong ridTop = BinaryPrimitives.ReadUInt32LittleEndian(p[Abi.Rmi.PdevParamsRidTop..]);
        if (!Abi.HashAlgorithms.IsDefined(hash) || ridBase > (pdevId & 0xFFFF) || ridTop <= ridBase || ridTop > 0x10000) return RmiStatus.ErrorInput;
        if (pdevIds.Contains(pdevId)) return RmiStatus.ErrorInput;
        pdevIds.Add(pdevId);
        pdevs[pa] = new RmmPdev(pa, pdevId, (byte)hash, (ushort)ridBase, (ushort)ridTop);
        return RmiStatus.Success;
    }

    /// <summary>
    /// RMI_PDEV_COMMUNICATE: starts the PDEV's pending phase or resumes it with the device's answer the
    /// host put in its response buffer; while the phase needs the device, the exit asks the host to
    /// send the next DOE object (REQ_SEND). Once it ends, the state moves as the pinned revision's
    /// [TR2] (NEW → NEEDS_KEY: VCA, digests, certificate; HAS_KEY → READY: the session and the IDE
    /// keys; a STOP in progress → STOPPED; a failure → ERROR, ERROR_DEVICE) and cached objects are
    /// handed over. BUSY while one of its VDEVs' operations holds the conversation.
    /// </summary>
    private RmiStatus PdevCommunicate(ulong pa, ulong commPa)
    {
        if (!pdevs.TryGetValue(pa, out var d) || !memory.TryPage(commPa, out var comm)) return RmiStatus.ErrorInput;
        BinaryPrimitives.WriteUInt64LittleEndian(comm[Abi.Rmi.CommExitFlags..], 0);
        if (d.FlowOwner is not null && d.FlowOwner != d) return RmiStatus.Busy;
        bool resume = d.FlowOwner == d;
        if (d.FlowOwner is null && d.Pending != DeviceOp.None)
        {
            d.Running = d.Pending;
            d.Pending = DeviceOp.None;
            StartFlow(d, d, d.Running switch
            {
                DeviceOp.ConnectInit => ConnectInitAsync(d),
                DeviceOp.SecureSession => SecureSessionAsync(d),
                _ => StopConnectionAsync(d),
            });
        }
        if (d.FlowOwner == d)
        {
            bool? done = Converse(d, comm, resume);
            if (done is not { } ok) return RmiStatus.Success;
            var phase = d.Running;
            d.Running = DeviceOp.None;
            switch (phase)
            {
                case DeviceOp.ConnectInit:
                case DeviceOp.SecureSession:
                    if (!ok) { d.State = PdevState.Error; return RmiStatus.ErrorDevice; }
                    d.Failure = "";
                    d.State = phase == DeviceOp.ConnectInit ? PdevState.NeedsKey : PdevState.Ready;
                    break;
                case DeviceOp.Stop:
                    d.State = PdevState.Stopped;
                    break;
            }
        }
        return Deliver(d.Outbox, comm);
    }

    private static void StartFlow(RmmPdev d, object owner, ValueTask<bool> flow)
    {
        d.FlowOwner = owner;
        d.Flow = flow;
    }

    /// <summary>
    /// Drives the PDEV's flow one step: delivers the host's answer when the flow waits for one, then
    /// either asks the host to send the flow's next DOE object (null) or returns the flow's result.
    /// A host that gives no answer, or buffers the RMM cannot use, makes the exchange fail (the
    /// requester sees no answer) — the flow ends with a failure, never a hang.
    /// </summary>
    private bool? Converse(RmmPdev d, Span<byte> comm, bool resume)
    {
        if (resume && !d.Flow.IsCompleted && !d.Channel.Pending.IsEmpty)
        {
            byte status = comm[Abi.Rmi.CommEnterStatus];
            ulong rspAddr = BinaryPrimitives.ReadUInt64LittleEndian(comm[Abi.Rmi.CommEnterRspAddr..]);
            ulong rspLen = BinaryPrimitives.ReadUInt64LittleEndian(comm[Abi.Rmi.CommEnterRspLen..]);
            if (status == Abi.Rmi.CommEnterStatusResponse && rspLen > 0 && rspLen <= MaxDoeObject && memory.TryGet(rspAddr, (int)rspLen, out var answer))
                d.Channel.Deliver(answer);
            else
                d.Channel.Deliver(default);
        }
        while (!d.Flow.IsCompleted)
        {
            var request = d.Channel.Pending;
            ulong reqAddr = BinaryPrimitives.ReadUInt64LittleEndian(comm[Abi.Rmi.CommEnterReqAddr..]);
            ulong size = BinaryPrimitives.ReadUInt64LittleEndian(comm[Abi.Rmi.CommEnterBufferSize..]);
            if (request.IsEmpty) break; // not waiting on the host: cannot happen with a relay channel
            if ((ulong)request.Length <= size && memory.Write(reqAddr, request.Span))
            {
                BinaryPrimitives.WriteUInt64LittleEndian(comm[Abi.Rmi.CommExitFlags..], Abi.Rmi.CommExitFlagReqSend | Abi.Rmi.CommExitFlagRspWait);
                BinaryPrimitives.WriteUInt64LittleEndian(comm[Abi.Rmi.CommExitReqLen..], (ulong)request.Length);
                BinaryPrimitives.WriteUInt64LittleEndian(comm[Abi.Rmi.CommExitProtocol..],
                    request.Span[2] == (byte)Tdisp.Wire.DoeObjectType.SecuredSpdm ? Abi.Rmi.CommProtocolSecureSpdm : Abi.Rmi.CommProtocolSpdm);
                return null;
            }
            d.Channel.Deliver(default);
        }
        bool ok;
        try { ok = d.Flow.IsCompleted && d.Flow.Result; }
        catch (Exception e) when (e is CryptographicException or InvalidOperationException or ArgumentException)
        {
            ok = Failed(d, "device communication", e.Message);
        }
        d.Flow = default;
        d.FlowOwner = null;
        return ok;
    }

    /// <summary>Ends a flow the host abandons: every exchange it still attempts gets no answer.</summary>
    private static void Abandon(RmmPdev d)
    {
        for (int i = 0; i < 64 && !d.Flow.IsCompleted && !d.Channel.Pending.IsEmpty; i++) d.Channel.Deliver(default);
        if (d.Flow.IsCompleted) { try { _ = d.Flow.Result; } catch (Exception e) when (e is CryptographicException or InvalidOperationException or ArgumentException) { } }
        d.Flow = default;
        d.FlowOwner = null;
    }

    /// <summary>The largest DOE object the RMM accepts back from the host (TsmLab bound: a whole SPDM message of its receive buffer).</summary>
    private const ulong MaxDoeObject = (1 << 16) + 64;

    /// <summary>
    /// RMI_PDEV_SET_PUBKEY(pdev, params) [TR2]: the host gives the device's public key, taken from
    /// the certificate it cached. Size, algorithm and lengths are ERROR_INPUT; a PDEV not in
    /// NEEDS_KEY is ERROR_DEVICE; on success HAS_KEY, with the secured-link phase pending.
    /// </summary>
    private RmiStatus PdevSetPubkey(ulong pa, ulong paramsPa)
    {
        if ((pa & (Abi.Rmi.Granule - 1)) != 0 || !memory.TryPage(paramsPa, out var p)) return RmiStatus.ErrorInput;
        ulong keyLen = BinaryPrimitives.ReadUInt64LittleEndian(p[Abi.Rmi.PubkeyKeyLen..]);
        ulong metaLen = BinaryPrimitives.ReadUInt64LittleEndian(p[Abi.Rmi.PubkeyMetadataLen..]);
        byte algo = p[Abi.Rmi.PubkeyAlgo];
        if (keyLen > Abi.Rmi.PubkeyKeyMax || metaLen > Abi.Rmi.PubkeyKeyMax) return RmiStatus.ErrorInput;
        int expected = Abi.Rmi.PubkeySize(algo);
        if (expected == 0 || keyLen != (ulong)expected) return RmiStatus.ErrorInput;
        if (!pdevs.TryGetValue(pa, out var d)) return RmiStatus.ErrorInput;
        if (d.State != PdevState.NeedsKey) return RmiStatus.ErrorDevice;
        // TsmLab: the RMM takes only the leaf key of the chain it read itself (the realm sees both digests).
        if (DevicePublicKey.ToEcdsa(p.Slice(Abi.Rmi.PubkeyKey, expected), algo) is not { } key) return RmiStatus.ErrorInput;
        if (!d.Spdm.AcceptResponderKey(key)) { key.Dispose(); return RmiStatus.ErrorInput; }
        d.PublicKey = p.Slice(Abi.Rmi.PubkeyKey, expected).ToArray();
        d.SignatureAlgorithm = algo;
        d.State = PdevState.HasKey;
        d.Pending = DeviceOp.SecureSession;
        return RmiStatus.Success;
    }

    private RmiStatus PdevGetState(ulong pa, out ulong state)
    {
        state = 0;
        if (!pdevs.TryGetValue(pa, out var d)) return RmiStatus.ErrorInput;
        state = (ulong)d.State;
        return RmiStatus.Success;
    }

    /// <summary>RMI_PDEV_STOP [TR2]: with no VDEV and no communication pending, schedules the stop; the next COMMUNICATE ends the link (STOPPED). Otherwise ERROR_DEVICE.</summary>
    private RmiStatus PdevStop(ulong pa)
    {
        if (!pdevs.TryGetValue(pa, out var d)) return RmiStatus.ErrorInput;
        if (d.VdevCount > 0 || d.Pending != DeviceOp.None || d.FlowOwner is not null) return RmiStatus.ErrorDevice;
        d.Pending = DeviceOp.Stop;
        return RmiStatus.Success;
    }

    private RmiStatus PdevAbort(ulong pa)
    {
        if (!pdevs.TryGetValue(pa, out var d)) return RmiStatus.ErrorInput;
        d.Pending = DeviceOp.None;
        if (d.FlowOwner == d)
        {
            Abandon(d);
            if (d.Running is DeviceOp.ConnectInit or DeviceOp.SecureSession) d.State = PdevState.Error;
            else if (d.Running == DeviceOp.Stop) d.State = PdevState.Stopped;
            d.Running = DeviceOp.None;
        }
        d.Outbox.Clear();
        return RmiStatus.Success;
    }

    private RmiStatus PdevDestroy(ulong pa)
    {
        if (!pdevs.TryGetValue(pa, out var d)) return RmiStatus.ErrorInput;
        if (d.State != PdevState.Stopped) return RmiStatus.ErrorDevice; // [TR2]: only a STOPPED PDEV is destroyed
        pdevs.Remove(pa);
        pdevIds.Remove(d.PdevId);
        d.Dispose();
        return RmiStatus.Success;
    }

    // ---- VDEV ----

    private RmiStatus VdevCreate(ulong rd, ulong pdevPa, ulong pa, ulong paramsPa)
    {
        if (!realms.TryGetValue(rd, out var realm)) return RmiStatus.ErrorRealm;
        if (!pdevs.TryGetValue(pdevPa, out var pdev) || pdev.State != PdevState.Ready) return RmiStatus.ErrorInput;
        if (!IsFreeGranule(pa) || !memory.TryPage(paramsPa, out var p)) return RmiStatus.ErrorInput;
        ulong vdevId = BinaryPrimitives.ReadUInt64LittleEndian(p[Abi.Rmi.VdevParamsVdevId..]);
        ulong tdiId = BinaryPrimitives.ReadUInt64LittleEndian(p[Abi.Rmi.VdevParamsTdiId..]);
        ulong ranges = BinaryPrimitives.ReadUInt64LittleEndian(p[Abi.Rmi.VdevParamsNumAddrRange..]);
        if (tdiId < pdev.RidBase || tdiId >= pdev.RidTop || ranges > Abi.Rmi.VdevParamsMaxRanges) return RmiStatus.ErrorInput;
        if (realm.Vdevs.ContainsKey(vdevId) || pdev.Tdis.Contains((ushort)tdiId)) return RmiStatus.ErrorInput;
        var vdev = new RmmVdev(pa, realm, pdev, vdevId, (ushort)tdiId);
        vdevs[pa] = vdev;
        realm.Vdevs[vdevId] = vdev;
        pdev.VdevCount++;
        pdev.Tdis.Add((ushort)tdiId);
        return RmiStatus.Success;
    }

    private RmiStatus FindVdev(ulong rd, ulong pdevPa, ulong pa, out RmmVdev vdev)
    {
        vdev = null!;
        if (!realms.ContainsKey(rd)) return RmiStatus.ErrorRealm;
        if (!vdevs.TryGetValue(pa, out var v) || v.Realm.Rd != rd || v.Pdev.Pa != pdevPa) return RmiStatus.ErrorInput;
        vdev = v;
        return RmiStatus.Success;
    }

    /// <summary>VDEV_LOCK / START / UNLOCK / GET_INTERFACE_REPORT: checks the state, then queues the op for COMMUNICATE.</summary>
    private RmiStatus VdevRequest(ulong rd, ulong pdevPa, ulong pa, DeviceOp op)
    {
        var rc = FindVdev(rd, pdevPa, pa, out var v);
        if (rc != RmiStatus.Success) return rc;
        if (v.Pending != DeviceOp.None) return RmiStatus.Busy;
        bool allowed = op switch
        {
            DeviceOp.Lock => v.State == VdevState.Unlocked,
            DeviceOp.Start => v.State == VdevState.Locked,
            DeviceOp.Unlock => v.State is VdevState.Locked or VdevState.Started or VdevState.Error,
            DeviceOp.GetReport => v.State is VdevState.Locked or VdevState.Started,
            _ => false,
        };
        if (!allowed) return RmiStatus.ErrorInput;
        v.Pending = op;
        return RmiStatus.Success;
    }

    private RmiStatus VdevGetMeasurements(ulong rd, ulong pdevPa, ulong pa, ulong paramsPa)
    {
        var rc = FindVdev(rd, pdevPa, pa, out var v);
        if (rc != RmiStatus.Success) return rc;
        if (v.Pending != DeviceOp.None) return RmiStatus.Busy;
        if (v.State is VdevState.New or VdevState.Error || !memory.TryPage(paramsPa, out var p)) return RmiStatus.ErrorInput;
        ulong flags = BinaryPrimitives.ReadUInt64LittleEndian(p[Abi.Rmi.MeasParamsFlags..]);
        if (flags > 1) return RmiStatus.ErrorInput;
        v.MeasFlags = flags;
        p.Slice(Abi.Rmi.MeasParamsNonce, 32).CopyTo(v.MeasNonce);
        v.Pending = DeviceOp.GetMeasurements;
        return RmiStatus.Success;
    }

    private RmiStatus VdevCommunicate(ulong rd, ulong pdevPa, ulong pa, ulong commPa)
    {
        var rc = FindVdev(rd, pdevPa, pa, out var v);
        if (rc != RmiStatus.Success) return rc;
        if (!memory.TryPage(commPa, out var comm)) return RmiStatus.ErrorInput;
        BinaryPrimitives.WriteUInt64LittleEndian(comm[Abi.Rmi.CommExitFlags..], 0);
        var d = v.Pdev;
        if (d.FlowOwner is not null && d.FlowOwner != v) return RmiStatus.Busy;
        bool resume = d.FlowOwner == v;
        if (d.FlowOwner is null && v.Pending != DeviceOp.None)
        {
            v.Running = v.Pending;
            v.Pending = DeviceOp.None;
            StartFlow(d, v, RunDeviceOpAsync(v, v.Running));
        }
        if (d.FlowOwner == v)
        {
            if (Converse(d, comm, resume) is not { } ok) return RmiStatus.Success;
            v.Running = DeviceOp.None;
            if (!ok) return RmiStatus.ErrorDevice;
        }
        return Deliver(v.Outbox, comm);
    }

    private RmiStatus VdevGetState(ulong pa, out ulong state)
    {
        state = 0;
        if (!vdevs.TryGetValue(pa, out var v)) return RmiStatus.ErrorInput;
        state = (ulong)v.State;
        return RmiStatus.Success;
    }

    private RmiStatus VdevAbort(ulong rd, ulong pdevPa, ulong pa)
    {
        var rc = FindVdev(rd, pdevPa, pa, out var v);
        if (rc != RmiStatus.Success) return rc;
        if (v.Pending == DeviceOp.None && v.Outbox.Count == 0 && v.Pdev.FlowOwner != v) return RmiStatus.ErrorInput;
        v.Pending = DeviceOp.None;
        if (v.Pdev.FlowOwner == v) Abandon(v.Pdev);
        v.Running = DeviceOp.None;
        v.Outbox.Clear();
        return RmiStatus.Success;
    }

    private RmiStatus VdevDestroy(ulong rd, ulong pdevPa, ulong pa)
    {
        var rc = FindVdev(rd, pdevPa, pa, out var v);
        if (rc != RmiStatus.Success) return rc;
        if (v.State is VdevState.Locked or VdevState.Started) return RmiStatus.ErrorInput;
        DropMappings(v);
        vdevs.Remove(pa);
        v.Realm.Vdevs.Remove(v.VdevId);
        v.Pdev.VdevCount--;
        v.Pdev.Tdis.Remove(v.FunctionId.Rid);
        return RmiStatus.Success;
    }

    /// <summary>
    /// Hands the next piece of the next cached object to the host: written at the start of its
    /// response buffer (as much as the buffer holds), exit RSP_CACHE with rsp_cache_offset 0,
    /// rsp_cache_len and cache_obj_id, and RSP_RESET on an object's first piece (TsmLab use: the host
    /// starts that object anew). SUCCESS when nothing remains after it, INCOMPLETE when more follows.
    /// </summary>
    private RmiStatus Deliver(Queue<OutgoingObject> outbox, Span<byte> comm)
    {
        if (outbox.Count == 0) return RmiStatus.Success;
        var o = outbox.Peek();
        ulong buf = BinaryPrimitives.ReadUInt64LittleEndian(comm[Abi.Rmi.CommEnterRspAddr..]);
        ulong len = BinaryPrimitives.ReadUInt64LittleEndian(comm[Abi.Rmi.CommEnterBufferSize..]);
        int piece = (int)Math.Min(len, (ulong)(o.Bytes.Length - o.Sent));
        if ((piece == 0 && o.Bytes.Length > 0) || !memory.Write(buf, o.Bytes.AsSpan(o.Sent, piece))) return RmiStatus.ErrorInput;
        BinaryPrimitives.WriteUInt64LittleEndian(comm[Abi.Rmi.CommExitFlags..], Abi.Rmi.CommExitFlagRspCache | (o.Sent == 0 ? Abi.Rmi.CommExitFlagRspReset : 0));
        BinaryPrimitives.WriteUInt64LittleEndian(comm[Abi.Rmi.CommExitObjId..], (ulong)o.Id);
        BinaryPrimitives.WriteUInt64LittleEndian(comm[Abi.Rmi.CommExitRspCacheOffset..], 0);
        BinaryPrimitives.WriteUInt64LittleEndian(comm[Abi.Rmi.CommExitRspCacheLen..], (ulong)piece);
        o.Sent += piece;
        if (o.Sent == o.Bytes.Length) outbox.Dequeue();
        return outbox.Count == 0 ? RmiStatus.Success : RmiStatus.Incomplete;
    }

    // ---- device RTT ----

    /// <summary>
    /// RMI_RTT_DEV_MAP(rd, vdev, base, top, flags, oaddr) → x1 = top of what was mapped [TR1,TR2]:
    /// the 2.0 register contract. The model takes the SINGLE output-address form (one
    /// RmiAddrRangeDesc4KB of 4 KiB blocks), maps [base, min(top, base + count × 4 KiB)) at level 3
    /// and checks every page against the VDEV's TEE ranges from its interface report (TsmLab: TF-RMM
    /// checks the host's rmi_vdev_params address ranges). All pages are checked before any is
    /// mapped, so a refusal maps nothing. LIST descriptors and larger blocks are not modelled
    /// (ERROR_INPUT).
    /// </summary>
    private RmiStatus RttDevMap(ulong rd, ulong vdevPa, ulong ipaBase, ulong ipaTop, ulong flags, ulong oaddr, out ulong mappedTop)
    {
        mappedTop = ipaBase;
        const ulong mask = Abi.Rmi.Granule - 1;
        if (!realms.TryGetValue(rd, out var realm)) return RmiStatus.ErrorInput;
        var (pa, count, sz) = Abi.Rmi.ReadAddrRangeDesc(oaddr);
        if (((ipaBase | ipaTop) & mask) != 0 || !RmmRealm.InPar(ipaBase, ipaTop) || (flags & Abi.Rmi.MapFlagsOaddrTypeMask) != Abi.Rmi.AddrTypeSingle
            || sz != 0 || count == 0) return RmiStatus.ErrorInput;
        if (!vdevs.TryGetValue(vdevPa, out var vdev) || vdev.Realm != realm || vdev.State is not (VdevState.Locked or VdevState.Started))
            return RmiStatus.ErrorInput;
        ulong top = Math.Min(ipaTop, ipaBase + count * Abi.Rmi.Granule);
        ulong teeFirst = 1, teeEnd = 0; // the TEE range the last page was found in: the next page is almost always in it too
        for (ulong ipa = ipaBase; ipa < top; ipa += Abi.Rmi.Granule)
        {
            ulong page = pa + (ipa - ipaBase);
            if ((page < teeFirst || page >= teeEnd) && !TeeRangeOf(vdev, page, out teeFirst, out teeEnd)) return RmiStatus.ErrorInput;
            if (realm.DevRtt.ContainsKey(ipa)) return RmiStatus.ErrorRtt;
        }
        for (ulong ipa = ipaBase; ipa < top; ipa += Abi.Rmi.Granule)
            realm.DevRtt.Set(ipa, new DevMapping(pa + (ipa - ipaBase), vdev));
        vdev.DevMappings += (int)((top - ipaBase) / Abi.Rmi.Granule);
        mappedTop = top;
        return RmiStatus.Success;
    }

    /// <summary>
    /// RMI_RTT_DEV_UNMAP(rd, base, top, flags, oaddr) → x1 = top of what was unmapped, x2 = the
    /// unmapped PA range as an RmiAddrRangeDesc4KB (SINGLE form), x3 = 0 [TR1]. It unmaps from
    /// base while the mappings continue the same PA range; ERROR_RTT when base is not mapped.
    /// </summary>
    private RmiStatus RttDevUnmap(ulong rd, ulong ipaBase, ulong ipaTop, ulong flags, ulong oaddr, out ulong unmappedTop, out ulong range, out ulong listCount)
    {
        unmappedTop = ipaBase;
        range = listCount = 0;
        _ = oaddr;
        const ulong mask = Abi.Rmi.Granule - 1;
        if (!realms.TryGetValue(rd, out var realm)) return RmiStatus.ErrorInput;
        if (((ipaBase | ipaTop) & mask) != 0 || ipaTop <= ipaBase || (flags & Abi.Rmi.MapFlagsOaddrTypeMask) != Abi.Rmi.AddrTypeSingle) return RmiStatus.ErrorInput;
        if (!realm.DevRtt.TryGetValue(ipaBase, out var first)) return RmiStatus.ErrorRtt;
        ulong ipa = ipaBase, count = 0;
        while (ipa < ipaTop && count < 0x3FF && realm.DevRtt.TryGetValue(ipa, out var m) && m.Pa == first.Pa + (ipa - ipaBase))
        {
            realm.DevRtt.Remove(ipa);
            m.Vdev.DevMappings--;
            ipa += Abi.Rmi.Granule;
            count++;
        }
        unmappedTop = ipa;
        range = Abi.Rmi.AddrRangeDesc(first.Pa, count);
        return RmiStatus.Success;
    }

    private RmiStatus RttDevValidate(ulong rd, ulong recPa, ulong baseIpa, ulong top, out ulong progress)
    {
        progress = baseIpa;
        if (!realms.TryGetValue(rd, out var realm)) return RmiStatus.ErrorRealm;
        if (!recs.TryGetValue(recPa, out var rec) || rec.Realm != realm || rec.Pending is not PendingValidateMapping req) return RmiStatus.ErrorRec;
        if (baseIpa != req.Progress || top > req.Top || top <= baseIpa) return RmiStatus.ErrorInput;
        for (int n = 0; n < Options.ValidatePagesPerCall && progress < top; n++, progress += Abi.Rmi.Granule)
        {
            if (!realm.DevRtt.TryGetValue(progress, out var m) || m.Vdev != req.Vdev || m.Pa != req.Pa + (progress - req.Base))
                return RmiStatus.ErrorRtt;
            realm.DevRtt.Set(progress, m with { Validated = true });
            req.Progress = progress + Abi.Rmi.Granule;
        }
        return RmiStatus.Success;
    }

    /// <summary>The TEE range [first, end) of the VDEV's report that holds the page at <paramref name="pa"/>; false when none does.</summary>
    private static bool TeeRangeOf(RmmVdev v, ulong pa, out ulong first, out ulong end)
    {
        var ranges = v.Ranges;
        for (int i = 0; i < ranges.Count; i++)
        {
            var r = ranges[i];
            first = r.FirstPage;
            end = r.FirstPage + (ulong)r.NumberOfPages * Abi.Rmi.Granule;
            if ((r.Attributes & Tdisp.Wire.MmioRangeAttributes.IsNonTeeMem) == 0 && pa >= first && Abi.Rmi.Granule <= end - pa && pa < end)
                return true;
        }
        first = 1;
        end = 0;
        return false;
    }

    private static bool InTeeRange(RmmVdev v, ulong pa, ulong length)
    {
        foreach (var r in v.Ranges)
        {
            ulong end = r.FirstPage + (ulong)r.NumberOfPages * Abi.Rmi.Granule;
            if ((r.Attributes & Tdisp.Wire.MmioRangeAttributes.IsNonTeeMem) == 0 && pa >= r.FirstPage && length <= end - pa && pa < end)
                return true;
        }
        return false;
    }

    /// <summary>Removes the VDEV's device RTT entries (none to look for when it mapped nothing).</summary>
    private static void DropMappings(RmmVdev v)
    {
        if (v.DevMappings == 0) return;
        foreach (var (ipa, m) in v.Realm.DevRtt.Entries())
            if (m.Vdev == v) v.Realm.DevRtt.Remove(ipa);
        v.DevMappings = 0;
    }
}
