using System.Buffers.Binary;
using TsmLab.Abi;
using TsmLab.Hardware;
using TsmLab.Kernel;
using TsmLab.Kernel.Pci;
using TsmLab.Kernel.Tsm;
using TsmLab.Platforms.Cca.Abi;
using TsmLab.Platforms.Cca.Kvm;
using TsmLab.Platforms.Cca.Firmware;
using TsmLab.Tdisp.Device;
using TsmLab.Tdisp.Requester;
using TsmLab.Tdisp.Wire;

namespace TsmLab.Platforms.Cca.HostDriver;

/// <summary>
/// The Arm CCA host TSM driver (drivers/virt/coco/arm-cca-host, RFC v4 [A7] and the op-based
/// revision [A9]): a link TSM that reaches the RMM only by RMI SMCs. Connect creates the PDEV
/// (the RMM negotiates TDISP and programs IDE keys over DOE); bind runs v4's lock sequence
/// (VDEV_CREATE, wait UNLOCKED, VDEV_LOCK, wait LOCKED); unbind unlocks and destroys; guest
/// requests are served in both ABI profiles with exact length checks. It also relays DOE for
/// the RMM (<see cref="IRmmDeviceLink"/>).
/// </summary>
public sealed class CcaLinkTsm : ILinkTsmPlatform, IRmmDeviceLink
{
    /// <summary>Granules of the buffer the RMM writes cache objects into (64 KiB).</summary>
    private const int CommBufferGranules = 16;
    /// <summary>COMMUNICATE calls before the driver gives up on an operation (TsmLab bound).</summary>
    // Enough COMMUNICATE rounds for four objects of the largest size the guest accepts, in buffer-sized pieces.
    private const int MaxCommunicate = Rhi.MaxObjectSize / (CommBufferGranules * Rmi.Granule) * 4 + 64;

    private static readonly TsmOpDescriptor[] OpTable =
    [
        new(TsmReqOp.ValidateMmio, TsmReqClass.StateChange, 24, 0),
        new(TsmReqOp.SetTdiState, TsmReqClass.StateChange, 4, 0),
        new(TsmReqOp.ReadObject, TsmReqClass.Info, 16, -1),
        new(TsmReqOp.RegenObject, TsmReqClass.Info, 24, 0),
        new(TsmReqOp.ObjectInfo, TsmReqClass.Info, 4, 4),
    ];

    private readonly HostKernel kernel;
    private readonly Dictionary<PciFunction, HostPdev> pdevs = new();
    /// <summary>The same PDEVs by pdev_id, for the RMM's relay (one look-up per device message, not a walk).</summary>
    private readonly Dictionary<ulong, HostPdev> pdevsById = new();

    /// <summary>The driver of a booted CCA host: handed the machine's RMM, it offers the RMM its DOE relay.</summary>
    public CcaLinkTsm(HostKernel kernel)
    {
        this.kernel = kernel;
        Memory = kernel.Machine.Memory;
        Rmm = kernel.Machine.FirmwareAs<CcaRmm>();
        Realms = RealmRegistry.Of(kernel);
        Rmm.AttachHostRelay(this);
    }

    /// <summary>
    /// A DSM's RMI buffers (Linux's per-PDEV comm data): the COMMUNICATE struct and its 64 KiB data
    /// buffer, the VDEV and measurement parameter pages. Per DSM, so requests on different devices
    /// (serialised only by their own DSM mutex) never share a buffer.
    /// </summary>
    private CommBuffers AllocateBuffers()
    {
        var b = new CommBuffers(Memory.Allocate(), Memory.Allocate(CommBufferGranules), Memory.Allocate(), Memory.Allocate());
        Span<byte> c = stackalloc byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(c, b.Buffer);
        BinaryPrimitives.WriteUInt64LittleEndian(c[8..], (ulong)(CommBufferGranules * Rmi.Granule));
        Memory.Write(b.Comm, c);
        return b;
    }

    private void FreeBuffers(CommBuffers b)
    {
        Memory.Free(b.Comm);
        Memory.Free(b.Buffer);
        Memory.Free(b.MeasParams);
        Memory.Free(b.VdevParams);
    }

    /// <summary>The platform's firmware, reached only by RMI SMCs.</summary>
    public CcaRmm Rmm { get; }
    /// <summary>The machine's physical memory (the driver allocates the RMI buffers there).</summary>
    public PhysicalMemory Memory { get; }
    /// <summary>KVM's realm descriptors (shared with the realm vCPUs).</summary>
    public RealmRegistry Realms { get; }

    public string Name => "cca";
    public TvmArch Arch => TvmArch.Cca;
    public IReadOnlyList<TsmOpDescriptor> Ops => OpTable;
    /// <summary>The longest payload: the v4 VDEV_MAP request (32 bytes).</summary>
    public int MaxRequestLength => 32;
    public int MaxResponseLength => Rhi.MaxObjectSize;

    // ---- link ops ----

    /// <summary>
    /// <c>cca_tsm_connect</c>: PDEV_CREATE for the DSM, then PDEV_COMMUNICATE until the RMM has
    /// negotiated TDISP, programmed the IDE keys and handed over VCA and certificate. ENODEV
    /// without a TDISP device behind the function, EIO when the RMM or the device refuses.
    /// </summary>
    public int Connect(PciFunction dsm)
    {
        if (dsm.Doe is not { } doe || doe is not ISpdmIdentityStandIn { StandInIdentity: { } identity }) return Errno.ENODEV.Neg();
        ulong pdevId = dsm.Address.GuestRid;
        var transport = new DoeTransport(doe);
        var host = new HostPdev(dsm, pdevId, transport, new SpdmEvidenceStandIn(identity()), AllocateBuffers());
        ulong comm = host.Buffers.Comm;
        pdevs[dsm] = host;
        pdevsById[pdevId] = host;
        ushort ridTop = (ushort)(kernel.Functions.Where(f => ReferenceEquals(f.Dsm, dsm)).Max(f => f.Address.RequesterId) + 1);
        ulong pdev = Memory.Allocate(), prm = Memory.Allocate();
        Span<byte> p = stackalloc byte[Rmi.PdevParamsHashAlgo + 1];
        p.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(p[Rmi.PdevParamsFlags..], Rmi.PdevFlagSpdm | Rmi.PdevCategoryEndpointOffChip);
        BinaryPrimitives.WriteUInt64LittleEndian(p[Rmi.PdevParamsPdevId..], pdevId);
        BinaryPrimitives.WriteUInt32LittleEndian(p[Rmi.PdevParamsRidBase..], dsm.Address.RequesterId);
        BinaryPrimitives.WriteUInt32LittleEndian(p[Rmi.PdevParamsRidTop..], ridTop);
        p[Rmi.PdevParamsHashAlgo] = Rsi.HashSha256;
        Memory.Write(prm, p);
        var rc = Call(Rmi.PdevCreate, pdev, prm);
        if (rc != RmiStatus.Success) { Memory.Free(prm); pdevs.Remove(dsm); pdevsById.Remove(pdevId); Memory.Free(pdev); FreeBuffers(host.Buffers); return Errno.EIO.Neg(); }
        host.Pdev = pdev;
        // [TR2]: NEW --COMMUNICATE--> NEEDS_KEY; the host gives the key from the certificate it
        // cached (RMI_PDEV_SET_PUBKEY) --> HAS_KEY --COMMUNICATE--> READY.
        bool ok = Communicate(host.Buffers, Rmi.PdevCommunicate, host.Objects, pdev, comm) == RmiStatus.Success && StateOf(pdev) == PdevState.NeedsKey
            && SetPublicKey(host, prm) && Communicate(host.Buffers, Rmi.PdevCommunicate, host.Objects, pdev, comm) == RmiStatus.Success
            && StateOf(pdev) == PdevState.Ready;
        Memory.Free(prm);
        if (!ok)
        {
            StopAndDestroy(pdev, host.Buffers);
            pdevs.Remove(dsm);
            pdevsById.Remove(pdevId);
            Memory.Free(pdev);
            FreeBuffers(host.Buffers);
            return Errno.EIO.Neg();
        }
        return 0;
    }

    /// <summary>RMI_PDEV_SET_PUBKEY with the leaf key of the certificate chain the RMM handed over at connect.</summary>
    private bool SetPublicKey(HostPdev host, ulong paramsPa)
    {
        if (!host.Objects.TryGetValue(CacheObject.Certificate, out var chain)) return false;
        using var leaf = SpdmCertificateChain.Leaf(chain);
        if (leaf is null || !DevicePublicKey.TryEncode(leaf, out var key, out byte algo)) return false;
        Span<byte> k = stackalloc byte[Rmi.PubkeyAlgo + 1];
        k.Clear();
        key.CopyTo(k[Rmi.PubkeyKey..]);
        BinaryPrimitives.WriteUInt64LittleEndian(k[Rmi.PubkeyKeyLen..], (ulong)key.Length);
        k[Rmi.PubkeyAlgo] = algo;
        Memory.Write(paramsPa, k);
        return Call(Rmi.PdevSetPubkey, host.Pdev, paramsPa) == RmiStatus.Success;
    }

    private PdevState StateOf(ulong pdev) =>
        Call(Rmi.PdevGetState, out ulong state, pdev) == RmiStatus.Success ? (PdevState)state : PdevState.Error;

    /// <summary>PDEV_STOP, COMMUNICATE (the RMM ends the link: STOPPED), PDEV_DESTROY.</summary>
    private void StopAndDestroy(ulong pdev, CommBuffers b)
    {
        if (StateOf(pdev) != PdevState.Stopped && Call(Rmi.PdevStop, pdev) == RmiStatus.Success)
            Communicate(b, Rmi.PdevCommunicate, [], pdev, b.Comm);
        Call(Rmi.PdevDestroy, pdev);
    }

    /// <summary><c>cca_tsm_disconnect</c>: PDEV_STOP and PDEV_DESTROY (the TSM core unbound every TDI first).</summary>
    public void Disconnect(PciFunction dsm)
    {
        if (!pdevs.Remove(dsm, out var host)) return;
        pdevsById.Remove(host.PdevId);
        StopAndDestroy(host.Pdev, host.Buffers);
        Memory.Free(host.Pdev);
        FreeBuffers(host.Buffers);
    }

    /// <summary>
    /// <c>cca_tsm_bind</c> (v4 [A7]): VDEV_CREATE with the guest RID and host RID, COMMUNICATE until
    /// UNLOCKED, VDEV_LOCK, COMMUNICATE until LOCKED (the RMM sends TDISP LOCK with the IDE stream
    /// programmed at connect, and fetches the report). ENXIO when the DSM is not connected here,
    /// EINVAL when the VM is not a realm, EIO when the RMM or device refuses; nothing stays behind.
    /// </summary>
    public int Bind(TsmTdi tdi)
    {
        if (!pdevs.TryGetValue(tdi.Function.Dsm, out var host)) return Errno.ENXIO.Neg();
        ulong rd = Realms.RdFor(tdi.Vm);
        if (rd == 0) return Errno.EINVAL.Neg();
        ulong vdev = Memory.Allocate();
        Span<byte> p = stackalloc byte[Rmi.Granule];
        p.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(p[Rmi.VdevParamsVdevId..], tdi.VirtId);
        BinaryPrimitives.WriteUInt64LittleEndian(p[Rmi.VdevParamsTdiId..], tdi.Function.Address.RequesterId);
        var b = host.Buffers;
        Memory.Write(b.VdevParams, p);
        if (Call(Rmi.VdevCreate, rd, host.Pdev, vdev, b.VdevParams) != RmiStatus.Success) { Memory.Free(vdev); return Errno.EIO.Neg(); }
        var state = new HostVdev(host, rd, vdev);
        bool ok = Communicate(b, Rmi.VdevCommunicate, state.Objects, rd, host.Pdev, vdev, b.Comm) == RmiStatus.Success && StateOf(state) == VdevState.Unlocked
            && Call(Rmi.VdevLock, rd, host.Pdev, vdev) == RmiStatus.Success
            && Communicate(b, Rmi.VdevCommunicate, state.Objects, rd, host.Pdev, vdev, b.Comm) == RmiStatus.Success && StateOf(state) == VdevState.Locked;
        if (!ok)
        {
            Teardown(state);
            return Errno.EIO.Neg();
        }
        tdi.PlatformState = state;
        return 0;
    }

    /// <summary><c>cca_tsm_unbind</c>: RTT_DEV_UNMAP of every mapping, VDEV_UNLOCK (TDISP STOP), VDEV_DESTROY.</summary>
    public void Unbind(TsmTdi tdi)
    {
        if (tdi.PlatformState is not HostVdev v) return;
        Teardown(v);
        tdi.PlatformState = null;
    }

    /// <summary>The TDI state as the RMM reports it (VDEV_GET_STATE).</summary>
    public TdiState QueryTdiState(TsmTdi tdi) => tdi.PlatformState is HostVdev v
        ? StateOf(v) switch
        {
            VdevState.Locked => TdiState.ConfigLocked,
            VdevState.Started => TdiState.Run,
            VdevState.Error => TdiState.Error,
            _ => TdiState.ConfigUnlocked,
        }
        : TdiState.ConfigUnlocked;

    /// <summary>Scope profile: a v4 payload (req_type first, exact size) says what it does; anything else is not understood.</summary>
    public bool TryClassify(ReadOnlySpan<byte> request, out TsmReqClass requestClass) =>
        CcaRequest.TryDecodeScope(request, out _, out requestClass);

    /// <summary>
    /// <c>cca_tsm_guest_req</c>: the arch is re-checked (A9), the payload decoded with exact
    /// lengths (EINVAL), then served. tsm_code carries the last RMI status.
    /// </summary>
    public int GuestRequest(TsmTdi tdi, ref TsmGuestRequest request)
    {
        if (request.Arch != TvmArch.Cca) return Errno.EINVAL.Neg();
        if (tdi.PlatformState is not HostVdev v) return Errno.ENXIO.Neg();
        CcaRequest r;
        bool decoded = request.Profile == TsmAbiProfile.OpArch
            ? CcaRequest.TryDecodeOpArch(request.Op, request.Request, out r)
            : CcaRequest.TryDecodeScope(request.Request, out r, out _);
        if (!decoded) return Errno.EINVAL.Neg();
        return r.Kind switch
        {
            CcaRequestKind.ObjectInfo => ObjectInfo(v, r, ref request),
            CcaRequestKind.ReadObject => ReadObject(v, r, ref request),
            CcaRequestKind.RegenObject => Regenerate(v, r, ref request),
            CcaRequestKind.ValidateMmio => ValidateMmio(v, r, ref request),
            _ => SetTdiState(v, r, ref request),
        };
    }

    // ---- requests ----

    private static bool TryObject(HostVdev v, CacheObject id, out byte[] bytes) =>
        id is CacheObject.Vca or CacheObject.Certificate ? v.Pdev.Objects.TryGetValue(id, out bytes!) : v.Objects.TryGetValue(id, out bytes!);

    /// <summary>Object size: 4 bytes (u32); ENODATA when the object has not been fetched (measurements before GET_MEASUREMENTS).</summary>
    private static int ObjectInfo(HostVdev v, in CcaRequest r, ref TsmGuestRequest request)
    {
        if (!TryObject(v, r.Object, out var bytes)) return Errno.ENODATA.Neg();
        Span<byte> size = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(size, bytes.Length);
        return request.Respond(size);
    }

    /// <summary>
    /// Bounded, offset-honouring read: copies min(resp_len, size − offset) bytes starting at
    /// offset; ERANGE when offset is beyond the object. (The Linux v4 backend instead requires
    /// resp_len ≥ size and copies size bytes from buf + offset, E2BIG otherwise — see docs/cca.md.)
    /// </summary>
    private static int ReadObject(HostVdev v, in CcaRequest r, ref TsmGuestRequest request)
    {
        if (!TryObject(v, r.Object, out var bytes)) return Errno.ENODATA.Neg();
        if (r.Offset > (ulong)bytes.Length) return Errno.ERANGE.Neg();
        int n = (int)Math.Min(request.ResponseLength, (ulong)bytes.Length - r.Offset);
        return request.Respond(bytes.AsSpan((int)r.Offset, n));
    }

    /// <summary>VDEV_GET_INTERFACE_REPORT, or VDEV_GET_MEASUREMENTS with the caller's 32-byte nonce (read from its memory; EFAULT).</summary>
    private int Regenerate(HostVdev v, in CcaRequest r, ref TsmGuestRequest request)
    {
        RmiStatus rc;
        if (r.Object == CacheObject.InterfaceReport)
            rc = Call(Rmi.VdevGetInterfaceReport, v.Rd, v.Pdev.Pdev, v.Vdev);
        else if (r.Object == CacheObject.Measurements)
        {
            if (r.Flags > 1) return Errno.EINVAL.Neg();
            Span<byte> prm = stackalloc byte[Rmi.MeasParamsNonce + 32];
            prm.Clear();
            BinaryPrimitives.WriteUInt64LittleEndian(prm, r.Flags);
            int crc = request.Memory.CopyFromUser(prm[Rmi.MeasParamsNonce..], r.NoncePtr);
            if (crc < 0) return crc;
            Memory.Write(v.Pdev.Buffers.MeasParams, prm);
            rc = Call(Rmi.VdevGetMeasurements, v.Rd, v.Pdev.Pdev, v.Vdev, v.Pdev.Buffers.MeasParams);
        }
        else return Errno.EINVAL.Neg();
        if (rc == RmiStatus.Success) rc = Communicate(v.Pdev.Buffers, Rmi.VdevCommunicate, v.Objects, v.Rd, v.Pdev.Pdev, v.Vdev, v.Pdev.Buffers.Comm);
        request.TsmCode = (ulong)rc;
        if (rc != RmiStatus.Success) return ToErrno(rc);
        request.StateChanged = true;
        return request.NoResponse();
    }

    /// <summary>
    /// <c>realm_dev_mem_map</c>: RMI_RTT_DEV_MAP(rd, vdev, base, top, SINGLE, desc) [TR1] for each run
    /// of [gpa_base, gpa_top) not yet mapped, mapping it to pa_base + offset. EINVAL for an empty or
    /// unaligned range, or when the RMM refuses (the pages this call mapped are unmapped again). A
    /// page already mapped to the same PA by this TDI is kept (a retried validation).
    /// </summary>
    private int ValidateMmio(HostVdev v, in CcaRequest r, ref TsmGuestRequest request)
    {
        const ulong mask = Rmi.Granule - 1;
        if (r.GpaTop <= r.GpaBase || ((r.GpaBase | r.GpaTop | r.PaBase) & mask) != 0 || r.PaBase + (r.GpaTop - r.GpaBase) < r.PaBase)
            return Errno.EINVAL.Neg();
        List<(ulong Base, ulong Top)>? mapped = null;
        ulong ipa = r.GpaBase;
        while (ipa < r.GpaTop)
        {
            ulong pa = r.PaBase + (ipa - r.GpaBase);
            if (v.Mappings.TryGetValue(ipa, out ulong have))
            {
                if (have != pa) return Undo(v, mapped, RmiStatus.ErrorRtt, ref request);
                ipa += Rmi.Granule;
                continue;
            }
            ulong top = ipa;
            while (top < r.GpaTop && !v.Mappings.ContainsKey(top) && (top - ipa) / Rmi.Granule < 0x3FF) top += Rmi.Granule;
            ulong pages = (top - ipa) / Rmi.Granule;
            var rc = Call(Rmi.RttDevMap, out ulong done, v.Rd, v.Vdev, ipa, top, Rmi.AddrTypeSingle, Rmi.AddrRangeDesc(pa, pages));
            if (rc != RmiStatus.Success || done != top) return Undo(v, mapped, rc == RmiStatus.Success ? RmiStatus.ErrorInput : rc, ref request);
            for (ulong p = ipa; p < top; p += Rmi.Granule) v.Mappings.Set(p, pa + (p - ipa));
            (mapped ??= []).Add((ipa, top));
            ipa = top;
        }
        request.StateChanged = mapped is not null;
        return request.NoResponse();
    }

    private int Undo(HostVdev v, List<(ulong Base, ulong Top)>? mapped, RmiStatus rc, ref TsmGuestRequest request)
    {
        if (mapped is not null)
            foreach (var (b, t) in mapped) Unmap(v, b, t);
        request.TsmCode = (ulong)rc;
        return Errno.EINVAL.Neg();
    }

    /// <summary>RMI_RTT_DEV_UNMAP over [base, top), run by run, forgetting the host's record of each page.</summary>
    private void Unmap(HostVdev v, ulong ipaBase, ulong ipaTop)
    {
        ulong ipa = ipaBase;
        while (ipa < ipaTop)
        {
            if (!v.Mappings.ContainsKey(ipa)) { ipa += Rmi.Granule; continue; }
            if (Call(Rmi.RttDevUnmap, out ulong done, v.Rd, ipa, ipaTop, Rmi.AddrTypeSingle, 0) != RmiStatus.Success || done <= ipa) done = ipa + Rmi.Granule;
            for (ulong p = ipa; p < done; p += Rmi.Granule) v.Mappings.Remove(p);
            ipa = done;
        }
    }

    /// <summary>v4: only RUN (2) is accepted → VDEV_START, the RMM sends START_INTERFACE with the LOCK nonce. EIO when the device refuses (the TDI stays LOCKED).</summary>
    private int SetTdiState(HostVdev v, in CcaRequest r, ref TsmGuestRequest request)
    {
        if (r.TdiState != (uint)Rhi.TdiRun) return Errno.EINVAL.Neg();
        var rc = Call(Rmi.VdevStart, v.Rd, v.Pdev.Pdev, v.Vdev);
        if (rc == RmiStatus.Success) rc = Communicate(v.Pdev.Buffers, Rmi.VdevCommunicate, v.Objects, v.Rd, v.Pdev.Pdev, v.Vdev, v.Pdev.Buffers.Comm);
        request.TsmCode = (ulong)rc;
        if (rc != RmiStatus.Success) return ToErrno(rc);
        request.StateChanged = true;
        return request.NoResponse();
    }

    /// <summary>RMI status to errno (TsmLab): INPUT/RTT/REALM EINVAL, BUSY EBUSY, anything else EIO.</summary>
    private static int ToErrno(RmiStatus rc) => rc switch
    {
        RmiStatus.ErrorInput or RmiStatus.ErrorRtt or RmiStatus.ErrorRealm => Errno.EINVAL.Neg(),
        RmiStatus.Busy => Errno.EBUSY.Neg(),
        _ => Errno.EIO.Neg(),
    };

    // ---- plumbing ----

    private VdevState StateOf(HostVdev v) =>
        Call(Rmi.VdevGetState, out ulong s, v.Vdev) == RmiStatus.Success ? (VdevState)s : VdevState.Error;

    private void Teardown(HostVdev v)
    {
        if (v.Mappings.TryGetBounds(out ulong lowest, out ulong highest)) Unmap(v, lowest, highest + Rmi.Granule);
        v.Mappings.Clear();
        if (StateOf(v) is VdevState.Locked or VdevState.Started or VdevState.Error
            && (Call(Rmi.VdevUnlock, v.Rd, v.Pdev.Pdev, v.Vdev) != RmiStatus.Success
                || Communicate(v.Pdev.Buffers, Rmi.VdevCommunicate, v.Objects, v.Rd, v.Pdev.Pdev, v.Vdev, v.Pdev.Buffers.Comm) != RmiStatus.Success))
            Call(Rmi.VdevAbort, v.Rd, v.Pdev.Pdev, v.Vdev);
        Call(Rmi.VdevDestroy, v.Rd, v.Pdev.Pdev, v.Vdev);
        Memory.Free(v.Vdev);
        v.Objects.Clear();
    }

    /// <summary>COMMUNICATE until the RMM answers other than INCOMPLETE, caching every object it hands over.</summary>
    private RmiStatus Communicate(CommBuffers b, ulong fid, Dictionary<CacheObject, byte[]> cache, ulong a1, ulong a2, ulong a3 = 0, ulong a4 = 0)
    {
        Span<byte> exit = stackalloc byte[40];
        for (int i = 0; i < MaxCommunicate; i++)
        {
            var rc = Call(fid, a1, a2, a3, a4);
            Memory.Read(b.Comm + Rmi.CommExitFlags, exit);
            if ((BinaryPrimitives.ReadUInt64LittleEndian(exit) & Rmi.CommExitFlagObject) != 0 && rc is RmiStatus.Success or RmiStatus.Incomplete)
            {
                var id = (CacheObject)BinaryPrimitives.ReadUInt64LittleEndian(exit[8..]);
                ulong len = BinaryPrimitives.ReadUInt64LittleEndian(exit[16..]);
                ulong offset = BinaryPrimitives.ReadUInt64LittleEndian(exit[24..]);
                ulong total = BinaryPrimitives.ReadUInt64LittleEndian(exit[32..]);
                // An object larger than the guest could ever read is refused, as the guest caps objects (MAX_CACHE_OBJ_SIZE).
                if (total > Rhi.MaxObjectSize || len > total || offset > total - len) return RmiStatus.ErrorDevice;
                if (offset == 0) cache[id] = new byte[total];
                else if (!cache.TryGetValue(id, out var partial) || (ulong)partial.Length != total) return RmiStatus.ErrorDevice;
                Memory.Read(b.Buffer, cache[id].AsSpan((int)offset, (int)len));
            }
            if (rc != RmiStatus.Incomplete) return rc;
        }
        return RmiStatus.ErrorDevice;
    }

    // Fault point FirmwareCall (docs/reliability.md): the SMC is not made and the RMM answers busy.
    private RmiStatus Call(ulong fid, ulong a1 = 0, ulong a2 = 0, ulong a3 = 0, ulong a4 = 0) =>
        Faults.FaultPlan.Armed && Faults.FaultPlan.Fail(Faults.FaultPoint.FirmwareCall, $"RMI 0x{fid:x}") ? RmiStatus.Busy : RealmRegistry.Call(Rmm, fid, a1, a2, a3, a4);
    private RmiStatus Call(ulong fid, out ulong x1, ulong a1 = 0, ulong a2 = 0, ulong a3 = 0, ulong a4 = 0, ulong a5 = 0, ulong a6 = 0)
    {
        x1 = 0;
        return Faults.FaultPlan.Armed && Faults.FaultPlan.Fail(Faults.FaultPoint.FirmwareCall, $"RMI 0x{fid:x}") ? RmiStatus.Busy : RealmRegistry.Call(Rmm, fid, out x1, a1, a2, a3, a4, a5, a6);
    }

    // ---- DOE relay for the RMM ----

    ITdispTransport? IRmmDeviceLink.TransportFor(ulong pdevId) => pdevsById.GetValueOrDefault(pdevId)?.Transport;

    ISpdmEvidence? IRmmDeviceLink.EvidenceFor(ulong pdevId) => pdevsById.GetValueOrDefault(pdevId)?.Evidence;
}
