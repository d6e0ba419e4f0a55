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
/// requests are served in both ABI profiles with exact length checks. It relays the RMM's DOE
/// objects: each COMMUNICATE whose exit says REQ_SEND has the request object sent through the DSM's
/// DOE mailbox and the next COMMUNICATE brings the response; it never decodes a secured object. It
/// decides the device's trust: the certificate chain the RMM read must verify to the root provisioned
/// for the DSM (<see cref="PciFunction.SpdmRoot"/>) before its leaf key goes to the RMM.
/// </summary>
public sealed class CcaLinkTsm : ILinkTsmPlatform
{
    /// <summary>Granules of each of the request and response buffers (64 KiB: a whole DOE object, a cache piece).</summary>
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
    /// <summary>Why each DSM's last connect failed (guarded, like <see cref="pdevs"/>, by the TSM core's rwsem held for write at connect).</summary>
    private readonly Dictionary<PciFunction, string> connectFailures = new();

    /// <summary>The driver of a booted CCA host: handed the machine's RMM, it offers the RMM its DOE relay.</summary>
    public CcaLinkTsm(HostKernel kernel)
    {
        this.kernel = kernel;
        Memory = kernel.Machine.Memory;
        Rmm = kernel.Machine.FirmwareAs<CcaRmm>();
        Realms = RealmRegistry.Of(kernel);
    }

    /// <summary>
    /// A DSM's RMI buffers (Linux's per-PDEV comm data): the COMMUNICATE struct, its 64 KiB request
    /// and response buffers, the VDEV and measurement parameter pages. Per DSM, so requests on
    /// different devices (serialised only by their own DSM mutex) never share a buffer.
    /// </summary>
    private CommBuffers AllocateBuffers()
    {
        var b = new CommBuffers(Memory.Allocate(), Memory.Allocate(CommBufferGranules), Memory.Allocate(CommBufferGranules), Memory.Allocate(), Memory.Allocate());
        Span<byte> c = stackalloc byte[Rmi.CommEnterBufferSize + 8];
        c.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(c[Rmi.CommEnterReqAddr..], b.Request);
        BinaryPrimitives.WriteUInt64LittleEndian(c[Rmi.CommEnterRspAddr..], b.Response);
        BinaryPrimitives.WriteUInt64LittleEndian(c[Rmi.CommEnterBufferSize..], (ulong)(CommBufferGranules * Rmi.Granule));
        Memory.Write(b.Comm, c);
        return b;
    }

    private void FreeBuffers(CommBuffers b)
    {
        Memory.Free(b.Comm);
        Memory.Free(b.Request);
        Memory.Free(b.Response);
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

    /// <inheritdoc/>
    public string? ConnectFailure(PciFunction dsm) => connectFailures.GetValueOrDefault(dsm);

    /// <summary>
    /// <c>cca_tsm_connect</c>: PDEV_CREATE for the DSM, PDEV_COMMUNICATE (relaying the RMM's SPDM
    /// objects) until it handed over VCA and certificate, the chain checked against the DSM's
    /// provisioned root and the leaf key given with PDEV_SET_PUBKEY, then COMMUNICATE until the RMM
    /// has its session and the IDE keys programmed. ENODEV without a DOE mailbox, EIO when the chain
    /// does not verify or the RMM or the device refuses (the PDEV is stopped and destroyed).
    /// </summary>
    public int Connect(PciFunction dsm)
    {
        if (dsm.Doe is not { } doe) return Errno.ENODEV.Neg();
        ulong pdevId = dsm.Address.GuestRid;
        var host = new HostPdev(dsm, pdevId, doe, AllocateBuffers());
        ulong comm = host.Buffers.Comm;
        pdevs[dsm] = host;
        connectFailures.Remove(dsm);
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
        if (rc != RmiStatus.Success)
        {
            connectFailures[dsm] = $"RMI_PDEV_CREATE: {rc}";
            Memory.Free(prm); pdevs.Remove(dsm); Memory.Free(pdev); FreeBuffers(host.Buffers); return Errno.EIO.Neg();
        }
        host.Pdev = pdev;
        // [TR2]: NEW --COMMUNICATE--> NEEDS_KEY; the host gives the key from the certificate it
        // cached (RMI_PDEV_SET_PUBKEY) --> HAS_KEY --COMMUNICATE--> READY.
        string? failure = null;
        rc = Communicate(host, Rmi.PdevCommunicate, host.Objects, pdev, comm);
        if (rc != RmiStatus.Success || StateOf(pdev) != PdevState.NeedsKey)
            failure = $"RMI_PDEV_COMMUNICATE (connect): {rc}, PDEV {StateOf(pdev)}";
        else if (!SetPublicKey(host, prm, out failure)) { }
        else if ((rc = Communicate(host, Rmi.PdevCommunicate, host.Objects, pdev, comm)) != RmiStatus.Success || StateOf(pdev) != PdevState.Ready)
            failure = $"RMI_PDEV_COMMUNICATE (secure session): {rc}, PDEV {StateOf(pdev)}";
        Memory.Free(prm);
        if (failure is not null)
        {
            connectFailures[dsm] = failure;
            StopAndDestroy(host, pdev);
            pdevs.Remove(dsm);
            Memory.Free(pdev);
            FreeBuffers(host.Buffers);
            return Errno.EIO.Neg();
        }
        return 0;
    }

    /// <summary>
    /// RMI_PDEV_SET_PUBKEY with the leaf key of the certificate chain the RMM handed over at connect,
    /// once that chain verified to the root provisioned for the DSM (TsmLab definition: Linux's
    /// arm-cca-host takes the key from the certificate; where its trust is decided is host policy).
    /// A chain that does not verify is traced with the reason and no key is given.
    /// </summary>
    private bool SetPublicKey(HostPdev host, ulong paramsPa, out string? failure)
    {
        failure = "the RMM handed over no certificate";
        if (!host.Objects.TryGetValue(CacheObject.Certificate, out var chain)) return false;
        string? reason = "no SPDM root is provisioned for the device";
        using var verified = host.Dsm.SpdmRoot is { } root
            ? Spdm.Wire.SpdmCertChainFormat.VerifyToRoot(chain, root, DateTimeOffset.UtcNow, out reason) : null;
        if (verified is null)
        {
            kernel.Trace?.Record(Tracing.TraceLayer.Kernel, Tracing.TraceLayer.Firmware, Tracing.TraceKind.Decision, "SPDM authentication", "failed",
                new Tracing.TraceField("pdev_id", $"0x{host.PdevId:x}"), new Tracing.TraceField("reason", reason ?? "the certificate chain does not verify"));
            failure = "SPDM authentication: " + (reason ?? "the certificate chain does not verify");
            return false;
        }
        failure = "the leaf key is not one RMI_PDEV_SET_PUBKEY takes";
        if (!DevicePublicKey.TryEncode(verified, out var key, out byte algo)) return false;
        Span<byte> k = stackalloc byte[Rmi.PubkeyAlgo + 1];
        k.Clear();
        key.CopyTo(k[Rmi.PubkeyKey..]);
        BinaryPrimitives.WriteUInt64LittleEndian(k[Rmi.PubkeyKeyLen..], (ulong)key.Length);
        k[Rmi.PubkeyAlgo] = algo;
        Memory.Write(paramsPa, k);
        var rc = Call(Rmi.PdevSetPubkey, host.Pdev, paramsPa);
        failure = rc == RmiStatus.Success ? null : $"RMI_PDEV_SET_PUBKEY: {rc}";
        return failure is null;
    }

    private PdevState StateOf(ulong pdev) =>
        Call(Rmi.PdevGetState, out ulong state, pdev) == RmiStatus.Success ? (PdevState)state : PdevState.Error;

    /// <summary>PDEV_STOP, COMMUNICATE (the RMM ends the link: STOPPED), PDEV_DESTROY.</summary>
    private void StopAndDestroy(HostPdev host, ulong pdev)
    {
        if (StateOf(pdev) != PdevState.Stopped && Call(Rmi.PdevStop, pdev) == RmiStatus.Success)
            Communicate(host, Rmi.PdevCommunicate, [], pdev, host.Buffers.Comm);
        Call(Rmi.PdevDestroy, pdev);
    }

    /// <summary><c>cca_tsm_disconnect</c>: PDEV_STOP and PDEV_DESTROY (the TSM core unbound every TDI first).</summary>
    public void Disconnect(PciFunction dsm)
    {
        if (!pdevs.Remove(dsm, out var host)) return;
        StopAndDestroy(host, host.Pdev);
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
        bool ok = Communicate(host, Rmi.VdevCommunicate, state.Objects, rd, host.Pdev, vdev, b.Comm) == RmiStatus.Success && StateOf(state) == VdevState.Unlocked
            && Call(Rmi.VdevLock, rd, host.Pdev, vdev) == RmiStatus.Success
            && Communicate(host, Rmi.VdevCommunicate, state.Objects, rd, host.Pdev, vdev, b.Comm) == RmiStatus.Success && StateOf(state) == VdevState.Locked;
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
        if (rc == RmiStatus.Success) rc = Communicate(v.Pdev, Rmi.VdevCommunicate, v.Objects, v.Rd, v.Pdev.Pdev, v.Vdev, v.Pdev.Buffers.Comm);
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
        if (rc == RmiStatus.Success) rc = Communicate(v.Pdev, Rmi.VdevCommunicate, v.Objects, v.Rd, v.Pdev.Pdev, v.Vdev, v.Pdev.Buffers.Comm);
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
                || Communicate(v.Pdev, Rmi.VdevCommunicate, v.Objects, v.Rd, v.Pdev.Pdev, v.Vdev, v.Pdev.Buffers.Comm) != RmiStatus.Success))
            Call(Rmi.VdevAbort, v.Rd, v.Pdev.Pdev, v.Vdev);
        Call(Rmi.VdevDestroy, v.Rd, v.Pdev.Pdev, v.Vdev);
        Memory.Free(v.Vdev);
        v.Objects.Clear();
    }

    /// <summary>
    /// The relay loop (Linux's <c>pdev_communicate</c> / <c>vdev_communicate</c>): COMMUNICATE; when the
    /// exit says REQ_SEND, the request object goes through the DSM's DOE mailbox and the next call says
    /// RESPONSE with its length (ERROR when the device gave nothing); RSP_CACHE pieces are appended to
    /// the object being cached (RSP_RESET starts one). Ends when the RMM answers SUCCESS with nothing
    /// left to send, or an error. The buffers are read and written in place: no copy per object.
    /// </summary>
    private RmiStatus Communicate(HostPdev host, ulong fid, Dictionary<CacheObject, byte[]> cache, ulong a1, ulong a2, ulong a3 = 0, ulong a4 = 0)
    {
        var b = host.Buffers;
        var comm = Memory.At(b.Comm, Rmi.Granule);
        int size = CommBufferGranules * Rmi.Granule;
        comm[Rmi.CommEnterStatus] = Rmi.CommEnterStatusNone;
        CacheObject? assembling = null;
        var rc = RmiStatus.ErrorDevice;
        for (int i = 0; i < MaxCommunicate; i++)
        {
            rc = Call(fid, a1, a2, a3, a4);
            comm[Rmi.CommEnterStatus] = Rmi.CommEnterStatusNone;
            if (rc is not (RmiStatus.Success or RmiStatus.Incomplete)) break;
            ulong flags = BinaryPrimitives.ReadUInt64LittleEndian(comm[Rmi.CommExitFlags..]);
            if ((flags & Rmi.CommExitFlagRspCache) != 0)
            {
                var id = (CacheObject)BinaryPrimitives.ReadUInt64LittleEndian(comm[Rmi.CommExitObjId..]);
                ulong offset = BinaryPrimitives.ReadUInt64LittleEndian(comm[Rmi.CommExitRspCacheOffset..]);
                ulong len = BinaryPrimitives.ReadUInt64LittleEndian(comm[Rmi.CommExitRspCacheLen..]);
                if ((flags & Rmi.CommExitFlagRspReset) != 0)
                {
                    if (assembling is { } previous) cache[previous] = host.Assembly.WrittenSpan.ToArray();
                    host.Assembly.ResetWrittenCount();
                    assembling = id;
                }
                // An object larger than the guest could ever read is refused, as the guest caps objects (MAX_CACHE_OBJ_SIZE).
                if (assembling != id || offset > (ulong)size || len > (ulong)size - offset || (ulong)host.Assembly.WrittenCount + len > Rhi.MaxObjectSize)
                    return RmiStatus.ErrorDevice;
                Memory.At(b.Response + offset, (int)len).CopyTo(host.Assembly.GetSpan((int)len));
                host.Assembly.Advance((int)len);
            }
            if ((flags & Rmi.CommExitFlagReqSend) != 0)
            {
                ulong reqLen = BinaryPrimitives.ReadUInt64LittleEndian(comm[Rmi.CommExitReqLen..]);
                if (reqLen == 0 || reqLen > (ulong)size) return RmiStatus.ErrorDevice;
                int n = host.Doe.Exchange(Memory.At(b.Request, (int)reqLen), Memory.At(b.Response, size));
                comm[Rmi.CommEnterStatus] = n > 0 ? Rmi.CommEnterStatusResponse : Rmi.CommEnterStatusError;
                BinaryPrimitives.WriteUInt64LittleEndian(comm[Rmi.CommEnterRspLen..], (ulong)Math.Max(n, 0));
                continue;
            }
            if (rc == RmiStatus.Success) break;
        }
        if (assembling is { } last && rc is RmiStatus.Success) cache[last] = host.Assembly.WrittenSpan.ToArray();
        return rc == RmiStatus.Incomplete ? RmiStatus.ErrorDevice : rc;
    }

    // Fault point FirmwareCall (docs/reliability.md): the SMC is not made and the RMM answers busy.
    private RmiStatus Call(ulong fid, ulong a1 = 0, ulong a2 = 0, ulong a3 = 0, ulong a4 = 0) =>
        Faults.FaultPlan.Armed && Faults.FaultPlan.Fail(Faults.FaultPoint.FirmwareCall, $"RMI 0x{fid:x}") ? RmiStatus.Busy : RealmRegistry.Call(Rmm, fid, a1, a2, a3, a4);
    private RmiStatus Call(ulong fid, out ulong x1, ulong a1 = 0, ulong a2 = 0, ulong a3 = 0, ulong a4 = 0, ulong a5 = 0, ulong a6 = 0)
    {
        x1 = 0;
        return Faults.FaultPlan.Armed && Faults.FaultPlan.Fail(Faults.FaultPoint.FirmwareCall, $"RMI 0x{fid:x}") ? RmiStatus.Busy : RealmRegistry.Call(Rmm, fid, out x1, a1, a2, a3, a4, a5, a6);
    }
}
