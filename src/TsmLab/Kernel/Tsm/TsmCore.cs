using TsmLab.Abi;
using TsmLab.Tdisp.Wire;
using TsmLab.Kernel.Kvm;
using TsmLab.Kernel.Pci;

namespace TsmLab.Kernel.Tsm;

/// <summary>
/// The TSM core and PCI TSM layer of the host (drivers/virt/coco/tsm-core.c, drivers/pci/tsm.c
/// in the devsec tree, DW2/DW3): TSM registration with IDA ids, the admin's connect and
/// disconnect, bind and unbind of TDIs, and the guest-request path with Linux's locks and
/// order of checks. Every method answers a negative errno rather than throwing.
/// </summary>
public sealed class TsmCore
{
    private readonly List<TsmDev?> devs = new();
    /// <summary>
    /// <c>pci_tsm_rwsem</c>: guards <see cref="devs"/> and every DSM's <c>ConnectedTsm</c> and
    /// <c>RequestBuffer</c>. Readers are requests, binds and unbinds (any number at once, on any
    /// device); writers change registration or connection. The TSM_REQ path holds it for read and
    /// then only its own DSM's mutex: requests on different PFs share nothing else in the core. A
    /// per-CPU reader count (<see cref="PerCpuRwsem"/>): taking it for read writes no shared line.
    /// </summary>
    private readonly PerCpuRwsem rwsem = new();
    private readonly Func<IEnumerable<PciFunction>> functions;

    internal TsmCore(Func<IEnumerable<PciFunction>> functions) => this.functions = functions;

    /// <summary>Where decisions are recorded (set through <see cref="HostKernel.Trace"/>).</summary>
    internal Tracing.TraceLog? Trace { get; set; }

    /// <summary>The registered TSMs.</summary>
    public IEnumerable<TsmDev> Devices
    {
        get
        {
            bool take = !HeldHere;
            if (take) rwsem.EnterReadLock();
            try { return devs.Where(d => d is not null).ToArray()!; }
            finally { if (take) rwsem.ExitReadLock(); }
        }
    }

    /// <summary><c>tsm_register</c>: a new <c>tsmN</c> with the lowest free id.</summary>
    public TsmDev Register(string parent, ILinkTsmPlatform platform)
    {
        rwsem.EnterWriteLock();
        try
        {
            int id = devs.IndexOf(null);
            if (id < 0) { id = devs.Count; devs.Add(null); }
            var dev = new TsmDev(id, parent, platform);
            devs[id] = dev;
            return dev;
        }
        finally { rwsem.ExitWriteLock(); }
    }

    /// <summary><c>tsm_unregister</c>: disconnects every DSM connected to it (unbinding their TDIs) and frees the id.</summary>
    public void Unregister(TsmDev dev)
    {
        rwsem.EnterWriteLock();
        try
        {
            foreach (var fn in functions())
                if (fn.IsDsm && ReferenceEquals(fn.DsmState!.ConnectedTsm, dev))
                    DisconnectLocked(fn);
            devs[dev.Id] = null;
            dev.Registered = false;
        }
        finally { rwsem.ExitWriteLock(); }
    }

    /// <summary><c>find_tsm_dev</c>.</summary>
    public TsmDev? Find(int id)
    {
        bool take = !HeldHere;
        if (take) rwsem.EnterReadLock();
        try { return FindLocked(id); }
        finally { if (take) rwsem.ExitReadLock(); }
    }

    /// <summary>True when this thread already holds the rwsem (a platform callback looking a TSM up): look-ups then do not take it again.</summary>
    private bool HeldHere => rwsem.IsReadLockHeld || rwsem.IsWriteLockHeld;

    private TsmDev? FindLocked(int id) => id >= 0 && id < devs.Count ? devs[id] : null;

    /// <summary>
    /// The admin's write of "tsmN" to PF0's <c>tsm/connect</c> (DW3): EINVAL for a bad format,
    /// EBUSY when already connected, ENXIO when N is not a registered link TSM; then the
    /// platform's connect.
    /// </summary>
    public int Connect(PciFunction dsm, string tsmName)
    {
        if (!dsm.IsDsm) return Errno.EINVAL.Neg();
        if (!TryParseTsmName(tsmName.TrimEnd('\n'), out int id)) return Errno.EINVAL.Neg();
        rwsem.EnterWriteLock();
        try
        {
            var state = dsm.DsmState!;
            if (state.ConnectedTsm is not null) return Errno.EBUSY.Neg();
            var tsm = FindLocked(id);
            if (tsm is null || !tsm.IsLink) return Errno.ENXIO.Neg();
            int rc = tsm.Platform.Connect(dsm);
            if (rc < 0)
            {
                state.ConnectFailure = $"{tsm.Name}: {tsm.Platform.ConnectFailure(dsm) ?? ErrnoNames.NameOf(rc)}";
                return rc;
            }
            state.ConnectFailure = null;
            state.ConnectedTsm = tsm;
            state.RequestBuffer = new byte[tsm.Platform.MaxRequestLength];
            return 0;
        }
        finally { rwsem.ExitWriteLock(); }
    }

    /// <summary>The admin's write to <c>tsm/disconnect</c>: ENXIO when not connected, EINVAL for another TSM's name.</summary>
    public int Disconnect(PciFunction dsm, string tsmName)
    {
        if (!dsm.IsDsm) return Errno.EINVAL.Neg();
        rwsem.EnterWriteLock();
        try
        {
            var tsm = dsm.DsmState!.ConnectedTsm;
            if (tsm is null) return Errno.ENXIO.Neg();
            if (tsmName.TrimEnd('\n') != tsm.Name) return Errno.EINVAL.Neg();
            DisconnectLocked(dsm);
            return 0;
        }
        finally { rwsem.ExitWriteLock(); }
    }

    /// <summary>
    /// <c>pci_tsm_bind</c> (DW2): EINVAL without a VM or when the function is not connected (or
    /// has no TDISP interface), ENXIO when the TSM is not a link TSM, EBUSY when bound to
    /// another VM, 0 when already bound to this one; else the platform's bind.
    /// </summary>
    public int Bind(PciFunction fn, KvmVm? vm, ulong virtId)
    {
        if (vm is null) return Errno.EINVAL.Neg();
        rwsem.EnterReadLock();
        try
        {
            var tsm = fn.ConnectedTsm;
            if (tsm is null || !fn.TeeCapable) return Errno.EINVAL.Neg();
            if (!tsm.IsLink) return Errno.ENXIO.Neg();
            lock (fn.Dsm.DsmState!.Mutex)
            {
                if (fn.Tdi is { } bound)
                    return ReferenceEquals(bound.Vm, vm) ? 0 : Errno.EBUSY.Neg();
                var tdi = new TsmTdi(fn, vm, virtId, tsm);
                long seq = Trace?.Reserve() ?? 0;
                int rc = tsm.Platform.Bind(tdi);
                Trace?.Record(seq, Tracing.TraceLayer.TsmCore, Tracing.TraceLayer.Firmware, Tracing.TraceKind.Decision, "pci_tsm_bind",
                    rc < 0 ? $"{rc} {ErrnoNames.NameOf(rc)}" : "0", new("function", fn.Address.ToString()), new("tsm", tsm.Name), new("vm", vm.ToString()), new("virt_id", $"0x{virtId:x}"));
                if (rc < 0) return rc;
                fn.Tdi = tdi;
                return 0;
            }
        }
        finally { rwsem.ExitReadLock(); }
    }

    /// <summary><c>pci_tsm_unbind</c>: always succeeds; a no-op when not bound.</summary>
    public void Unbind(PciFunction fn)
    {
        rwsem.EnterReadLock();
        try
        {
            lock (fn.Dsm.DsmState!.Mutex) UnbindLocked(fn);
        }
        finally { rwsem.ExitReadLock(); }
    }

    /// <summary>
    /// <c>pci_tsm_guest_req</c> (DW2, K5r) with TsmLab's envelope checks. Order: DEBUG scopes
    /// EINVAL; rwsem; not connected ENXIO; not a link TSM ENXIO; DSM mutex; not bound ENXIO;
    /// TSM serves another arch EINVAL; request longer than the TSM accepts or op not served
    /// EINVAL; request copied in once (EFAULT); scope profile: payload classified and a scope
    /// that does not match EINVAL; then the platform's guest_req, whose result passes through.
    /// </summary>
    public int GuestRequest(PciFunction fn, ref TsmGuestRequest request, ulong reqUptr, uint reqLen, out TsmRejection rejection)
    {
        var facts = new GuestRequestFacts { Profile = request.Profile, Scope = request.Scope, Op = request.Op, Arch = request.Arch, RequestLength = reqLen, ResponseLength = request.ResponseLength };
        int refused = GuestRequestChecks.Run(GuestRequestStage.Entry, facts, out rejection);
        if (refused < 0) return refused;
        rwsem.EnterReadLock();
        try
        {
            var tsm = facts.Tsm = fn.ConnectedTsm;
            if ((refused = GuestRequestChecks.Run(GuestRequestStage.Connected, facts, out rejection)) < 0) return refused;
            var dsm = fn.Dsm.DsmState!;
            lock (dsm.Mutex)
            {
                var tdi = facts.Tdi = fn.Tdi;
                if ((refused = GuestRequestChecks.Run(GuestRequestStage.Bound, facts, out rejection)) < 0) return refused;
                var platform = tsm!.Platform;
                var payload = dsm.RequestBuffer.AsSpan(0, (int)reqLen);
                if (reqLen > 0)
                {
                    int crc = request.Memory.CopyFromUser(payload, reqUptr);
                    if (crc < 0) return crc;
                }
                request.Request = payload;
                if (request.Profile == TsmAbiProfile.Scope && platform.TryClassify(payload, out var requestClass)) facts.PayloadClass = requestClass;
                if ((refused = GuestRequestChecks.Run(GuestRequestStage.Copied, facts, out rejection)) < 0) return refused;
                tsm.CountServed(request.Profile, request.Scope, request.Op);
                long seq = Trace?.Reserve() ?? 0;
                int rc = platform.GuestRequest(tdi!, ref request);
                if (rc == Errno.EINVAL.Neg()) rejection = TsmRejection.PlatformRejected;
                Trace?.Record(seq, Tracing.TraceLayer.TsmCore, Tracing.TraceLayer.Firmware, Tracing.TraceKind.Decision, "guest_req", rc < 0 ? $"{rc} {ErrnoNames.NameOf(rc)}" : rc.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    new("function", fn.Address.ToString()), new("tsm", tsm.Name),
                    new(request.Profile == TsmAbiProfile.Scope ? "scope" : "op", request.Profile == TsmAbiProfile.Scope ? request.Scope.ToString() : request.Op.ToString()),
                    new("req_len", reqLen.ToString(System.Globalization.CultureInfo.InvariantCulture)), new("tsm_code", $"0x{request.TsmCode:x}"));
                return rc;
            }
        }
        finally { rwsem.ExitReadLock(); }
    }

    /// <summary>The TDI state of a function: the TSM's view while bound, else CONFIG_UNLOCKED.</summary>
    public TdiState StateOf(PciFunction fn)
    {
        if (fn.Tdi is null) return TdiState.ConfigUnlocked;
        bool take = !HeldHere;
        if (take) rwsem.EnterReadLock();
        try
        {
            lock (fn.Dsm.DsmState!.Mutex)
            {
                var tdi = fn.Tdi;
                return tdi is null ? TdiState.ConfigUnlocked : tdi.Tsm.Platform.QueryTdiState(tdi);
            }
        }
        finally { if (take) rwsem.ExitReadLock(); }
    }

    private void DisconnectLocked(PciFunction dsm)
    {
        var state = dsm.DsmState!;
        lock (state.Mutex)
        {
            foreach (var fn in functions())
                if (ReferenceEquals(fn.Dsm, dsm)) UnbindLocked(fn);
        }
        state.ConnectedTsm!.Platform.Disconnect(dsm);
        state.ConnectedTsm = null;
    }

    private void UnbindLocked(PciFunction fn)
    {
        if (fn.Tdi is not { } tdi) return;
        long seq = Trace?.Reserve() ?? 0;
        tdi.Tsm.Platform.Unbind(tdi);
        fn.Tdi = null;
        Trace?.Record(seq, Tracing.TraceLayer.TsmCore, Tracing.TraceLayer.Firmware, Tracing.TraceKind.Decision, "pci_tsm_unbind", "0",
            new("function", fn.Address.ToString()), new("tsm", tdi.Tsm.Name));
    }

    internal static bool TryParseTsmName(string name, out int id)
    {
        id = -1;
        return name.StartsWith("tsm", StringComparison.Ordinal) && name.Length > 3 &&
               int.TryParse(name.AsSpan(3), System.Globalization.NumberStyles.None, null, out id);
    }
}
