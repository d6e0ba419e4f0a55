using TsmLab.Abi;
using TsmLab.Kernel.Kvm;
using TsmLab.Kernel.Vfio;

namespace TsmLab.Kernel.Iommufd;

/// <summary>
/// An open <c>/dev/iommu</c> (<c>struct iommufd_ctx</c>): the id table of its objects and the
/// entry point of its ioctls (<see cref="IommufdDispatch"/>). Ids come from an allocating table
/// starting at 1 (XA_FLAGS_ALLOC1), lowest free first. The context lives while its fd is open
/// or a VFIO device is bound to it; when released it destroys its objects leaf first, as
/// iommufd_fops_release does, which unbinds their TDIs.
/// <para>
/// Locking (docs/reliability.md): <see cref="Gate"/> guards the id table, every object's
/// <c>Users</c> count and the relations between objects (attachments, a device's vDevice, a
/// vIOMMU's vDevices): it stands for the xarray lock and the per-object mutexes Linux uses
/// (igroup->lock, viommu->vdevs lock). An ioctl that looks an object up holds a short-term
/// reference to it until the ioctl returns (<c>iommufd_get_object</c>'s shortterm_users);
/// destroy, unbind and the context's release wait for other threads' short-term references to
/// go (IOMMU_DESTROY gives up with EBUSY after <see cref="DestroyWait"/>, as Linux's
/// REMOVE_WAIT_SHORTTERM), so no object is torn down under a running ioctl. Lock order:
/// the VFIO device's lock, then <see cref="Gate"/>, then the TSM core's rwsem, then a DSM's mutex,
/// then a process's mmap lock; and <see cref="Gate"/>, then an IOAS's <see cref="IoPagetable.Gate"/>,
/// then an <see cref="IoptPages"/>' lock, then the mmap lock.
/// </para>
/// </summary>
public sealed class IommufdContext : KernelFile
{
    /// <summary>How long IOMMU_DESTROY waits for other threads' ioctls on the object (Linux: 60 s).</summary>
    public static readonly TimeSpan DestroyWait = TimeSpan.FromSeconds(60);

    private readonly List<IommufdObject?> objects = new() { null };

    /// <summary>The objects held short-term by the ioctls running on this thread, outermost first.</summary>
    [ThreadStatic] private static List<(IommufdContext Context, IommufdObject Object)>? held;
    [ThreadStatic] private static int callDepth;

    internal IommufdContext(HostKernel kernel)
    {
        Kernel = kernel;
        Table = IommufdIoctlTable.For(kernel.Configuration.Profile, kernel.Configuration.IommufdSelftest);
    }

    public HostKernel Kernel { get; }
    internal IommufdIoctlTable Table { get; }
    public override string Name => "/dev/iommu";

    /// <summary>
    /// IOMMU_OPTION_RLIMIT_MODE (<c>ictx->account_mode</c>): false charges pins to the user
    /// (default), true to the mapping process's mm. Set only while the context has no objects.
    /// </summary>
    public bool AccountPerProcess { get; internal set; }

    /// <summary>The account mode of pages a caller maps (<c>iopt_alloc_pages</c> + <c>iopt_map_user_pages</c>).</summary>
    internal PinAccountMode AccountModeFor(Process caller) =>
        caller.Limits.CapIpcLock ? PinAccountMode.None : AccountPerProcess ? PinAccountMode.Mm : PinAccountMode.User;

    /// <summary>The VFIO compatibility IOAS (<c>ictx->vfio_ioas</c>), set with IOMMU_VFIO_IOAS; guarded by <see cref="Gate"/>.</summary>
    internal Ioas? VfioIoas { get; set; }

    /// <summary>True when the id table is empty (RLIMIT_MODE may change only then).</summary>
    internal bool IsEmpty
    {
        get { lock (Gate) return objects.All(o => o is null); }
    }

    /// <summary>
    /// The context's object lock (xa_lock of <c>ictx->objects</c>; a Monitor so a destroy can wait
    /// for short-term users to release it): guards the object table and every object's Users and
    /// Shortterm counts. Held only for a look-up or a count change, never across a handler; one
    /// per iommufd, so VMMs (or VMs) with their own /dev/iommu never share it.
    /// </summary>
    internal object Gate { get; } = new();

    /// <summary>Threads waiting (in <see cref="WaitShortterm"/>) for short-term references to go: releases wake them only when there are some.</summary>
    private int shorttermWaiters;

    /// <summary>Live objects, by id.</summary>
    public IEnumerable<IommufdObject> Objects
    {
        get
        {
            lock (Gate) return objects.Where(o => o is not null).ToArray()!;
        }
    }

    public override long Ioctl(Process caller, uint cmd, ulong arg) => IommufdDispatch.Dispatch(this, caller, cmd, arg);

    /// <summary>Starts an ioctl on this thread: objects looked up until <see cref="EndCall"/> are held short-term.</summary>
    internal static int BeginCall()
    {
        held ??= new();
        callDepth++;
        return held.Count;
    }

    /// <summary>Ends an ioctl: drops the short-term references it took and wakes anyone waiting for them.</summary>
    internal static void EndCall(int mark)
    {
        var list = held!;
        for (int i = list.Count - 1; i >= mark; i--)
        {
            var (ctx, obj) = list[i];
            list.RemoveAt(i);
            // iommufd_put_object: an atomic decrement, and a wake-up only when someone waits (the
            // decrement and the waiter's count are both full fences, so one of the two sees the other).
            if (obj.ReleaseShortterm() == 0 && Volatile.Read(ref ctx.shorttermWaiters) > 0)
                lock (ctx.Gate) Monitor.PulseAll(ctx.Gate);
        }
        callDepth--;
    }

    /// <summary><c>iommufd_get_object</c>: the object of that id and type, or null (the caller answers ENOENT).</summary>
    public T? Get<T>(uint id) where T : IommufdObject
    {
        lock (Gate) return Hold(id < (uint)objects.Count ? objects[(int)id] as T : null);
    }

    /// <summary>The object of that id, whatever its type.</summary>
    public IommufdObject? GetAny(uint id)
    {
        lock (Gate) return Hold(id < (uint)objects.Count ? objects[(int)id] : null);
    }

    /// <summary>Inside an ioctl, takes a short-term reference that lasts until the ioctl returns. Caller holds <see cref="Gate"/>.</summary>
    private T? Hold<T>(T? obj) where T : IommufdObject
    {
        if (obj is not null && callDepth > 0)
        {
            obj.HoldShortterm();
            held!.Add((this, obj));
        }
        return obj;
    }

    /// <summary>Short-term references this thread holds on <paramref name="obj"/> (it never waits for itself).</summary>
    private static int HeldHere(IommufdObject obj)
    {
        int n = 0;
        if (held is { } list)
            foreach (var (_, o) in list)
                if (ReferenceEquals(o, obj)) n++;
        return n;
    }

    /// <summary>Waits (releasing <see cref="Gate"/>) until no other thread holds <paramref name="obj"/> short-term; false on timeout.</summary>
    private bool WaitShortterm(IommufdObject obj, TimeSpan? timeout)
    {
        long deadline = timeout is { } t ? Environment.TickCount64 + (long)t.TotalMilliseconds : long.MaxValue;
        Interlocked.Increment(ref shorttermWaiters);
        try
        {
            while (obj.Shortterm - HeldHere(obj) > 0)
            {
                long left = deadline - Environment.TickCount64;
                if (left <= 0) return false;
                Monitor.Wait(Gate, TimeSpan.FromMilliseconds(Math.Min(left, 1000)));
            }
            return true;
        }
        finally { Interlocked.Decrement(ref shorttermWaiters); }
    }

    internal uint Add(IommufdObject obj)
    {
        lock (Gate)
        {
            int id = objects.IndexOf(null, 1);
            if (id < 0) { id = objects.Count; objects.Add(null); }
            objects[id] = obj;
            obj.Id = (uint)id;
            return obj.Id;
        }
    }

    /// <summary>
    /// <c>iommufd_object_remove</c> for IOMMU_DESTROY: ENOENT for no object, EBUSY while
    /// anything depends on it (or another thread's ioctl still uses it after <see cref="DestroyWait"/>);
    /// else the object's destroy runs.
    /// </summary>
    internal int Remove(uint id)
    {
        lock (Gate)
        {
            var obj = id < (uint)objects.Count ? objects[(int)id] : null;
            if (obj is null) return Errno.ENOENT.Neg();
            if (!WaitShortterm(obj, DestroyWait)) return Errno.EBUSY.Neg();
            if (!ReferenceEquals(objects[(int)id], obj)) return Errno.ENOENT.Neg();
            if (obj.Users != 1) return Errno.EBUSY.Neg();
            objects[(int)id] = null;
            obj.Users = 0;
            DestroyObject(obj);
            return 0;
        }
    }

    /// <summary>Drops an object that was allocated but whose ioctl failed afterwards (iommufd_object_abort_and_destroy).</summary>
    internal void Abort(IommufdObject obj)
    {
        lock (Gate)
        {
            WaitShortterm(obj, null);
            // While this thread waited (the lock released), another may have destroyed it: never twice.
            if (obj.Users == 0) return;
            if (obj.Id < (uint)objects.Count && ReferenceEquals(objects[(int)obj.Id], obj)) objects[(int)obj.Id] = null;
            obj.Users = 0;
            DestroyObject(obj);
        }
    }

    /// <summary>VFIO_DEVICE_BIND_IOMMUFD's iommufd side (iommufd_device_bind). Takes over the caller's file reference.</summary>
    internal IommufdDevice BindDevice(VfioDeviceFile file, KvmVm? kvm)
    {
        kvm?.Get();
        // One user for the table, one for the VFIO driver until unbind.
        var idev = new IommufdDevice(this, file, kvm) { Users = 2 };
        Add(idev);
        return idev;
    }

    /// <summary>
    /// The mock driver's iommufd_device_bind of a mock device (IOMMU_TEST_OP_MOCK_DOMAIN): one user
    /// for the table, one for the selftest object until it is destroyed. No KVM, no context
    /// reference (the selftest object lives in this context's own table).
    /// </summary>
    internal IommufdDevice BindMockDevice(Selftest.MockDevice mock)
    {
        var idev = new IommufdDevice(this, mock) { Users = 2 };
        Add(idev);
        return idev;
    }

    /// <summary>The unbind (iommufd_device_unbind): destroys the vDevice first, detaches; a VFIO binding also drops its context reference.</summary>
    internal void UnbindDevice(IommufdDevice idev)
    {
        lock (Gate)
        {
            WaitShortterm(idev, null);
            if (idev.Vdevice is { } vdev) Abort(vdev);
            foreach (uint pasid in idev.PasidAttached.Keys.ToList()) PasidDetach(idev, pasid);
            if (idev.Attached is not null) Detach(idev);
            if (ReferenceEquals(objects[(int)idev.Id], idev)) objects[(int)idev.Id] = null;
            idev.Users = 0;
        }
        idev.Kvm?.Put();
        if (idev.File is not null) Put();
    }

    /// <summary>
    /// iommufd_device_attach of the RID: an IOAS id attaches to an automatic paging domain
    /// (created or reused), a paging or nested HWPT id to that HWPT. ENOENT for an unknown id,
    /// EINVAL for another type or while attached elsewhere (<see cref="CheckAttach"/> for the rest).
    /// </summary>
    internal int Attach(IommufdDevice idev, uint ptId, out uint hwptId, out bool changed)
    {
        lock (Gate) return AttachLocked(idev, ptId, out hwptId, out changed);
    }

    private int AttachLocked(IommufdDevice idev, uint ptId, out uint hwptId, out bool changed)
    {
        hwptId = 0;
        changed = false;
        Hwpt? hwpt;
        var iommu = idev.Driver;
        bool reserved = false;
        switch (GetAny(ptId))
        {
            case null:
                return Errno.ENOENT.Neg();
            case Hwpt h:
                int rc0 = CheckAttach(idev, h);
                if (rc0 < 0) return rc0;
                hwpt = h;
                break;
            case Ioas ioas:
                hwpt = idev.Attached is { AutoDomain: true } cur && ReferenceEquals(cur.Ioas, ioas) ? cur : null;
                if (hwpt is null && idev.Attached is not null) return Errno.EINVAL.Neg();
                // An automatic domain is never PASID-compatible: not with PASIDs attached (iommufd_hwpt_pasid_compat).
                if (hwpt is null && idev.PasidAttached.Count > 0) return Errno.EINVAL.Neg();
                // iommufd_device_auto_get_domain: any automatic domain of the IOAS that takes the device is reused.
                hwpt ??= objects.OfType<HwPagetable>().FirstOrDefault(h => h.AutoDomain && ReferenceEquals(h.Ioas, ioas) && h.Iommu == idev.IommuInstance);
                if (hwpt is null)
                {
                    // iommufd_hwpt_paging_alloc(immediate_attach): the device's reserved regions, then the domain joins the IOAS.
                    int rc = ioas.Iopt.ReserveRegions(idev, iommu.ReservedRegions);
                    if (rc < 0) return rc;
                    var paging = new HwPagetable(ioas, nestParent: false, autoDomain: true, idev.IommuInstance);
                    rc = ioas.Iopt.AddDomain(paging, iommu.PageSize, iommu.ApertureStart, iommu.ApertureEnd);
                    if (rc < 0)
                    {
                        ioas.Iopt.RemoveReserved(idev);
                        return rc;
                    }
                    reserved = true;
                    ioas.Users++;
                    Add(paging);
                    hwpt = paging;
                }
                break;
            default:
                return Errno.EINVAL.Neg();
        }
        if (idev.Attached is not null)
        {
            if (!ReferenceEquals(idev.Attached, hwpt)) return Errno.EINVAL.Neg();
            hwptId = hwpt.Id;
            return 0;
        }
        if (!reserved)
        {
            // iommufd_device_attach_reserved_iova: EADDRINUSE when a region meets a mapping or an allowed range.
            int rc = hwpt.Ioas.Iopt.ReserveRegions(idev, iommu.ReservedRegions);
            if (rc < 0) return rc;
        }
        hwpt.Users++;
        idev.Attached = hwpt;
        SetMockViommu(idev, hwpt);
        hwptId = hwpt.Id;
        changed = true;
        return 0;
    }

    /// <summary>
    /// What attaching the RID to an existing HWPT checks (iommufd_hw_pagetable_attach and the
    /// mock's <c>mock_domain_nop_attach</c>): a domain of another IOMMU driver EINVAL; a HWPT that
    /// is not PASID-compatible while PASIDs are attached EINVAL; a NO_DIRTY mock device on a
    /// domain with dirty ops EINVAL; a nested HWPT of a vIOMMU on which the device has no vDevice
    /// ENOENT (<c>iommufd_viommu_get_vdev_id</c>). Caller holds <see cref="Gate"/>.
    /// </summary>
    private static int CheckAttach(IommufdDevice idev, Hwpt h)
    {
        if (h.Iommu != idev.IommuInstance && (h.Iommu == Selftest.MockIommu.Instance || idev.IommuInstance == Selftest.MockIommu.Instance)) return Errno.EINVAL.Neg();
        if (!h.PasidCompat && idev.PasidAttached.Count > 0) return Errno.EINVAL.Neg();
        if (h is HwPagetable { DirtyOps: true } && idev.Mock is { DirtyCapable: false }) return Errno.EINVAL.Neg();
        if (h is HwptNested { Viommu: { } v } && (idev.Vdevice is not { } vdev || !ReferenceEquals(vdev.Viommu, v))) return Errno.ENOENT.Neg();
        return 0;
    }

    /// <summary>mock_domain_nop_attach's <c>mdev->viommu</c> and <c>vdev_id</c>: set by a nested HWPT of a vIOMMU, cleared by any other.</summary>
    private static void SetMockViommu(IommufdDevice idev, Hwpt hwpt)
    {
        if (idev.Mock is not { } mock) return;
        var v = (hwpt as HwptNested)?.Viommu;
        mock.Viommu = v;
        mock.VdevId = v is not null ? idev.Vdevice!.VirtId : 0;
    }

    /// <summary>
    /// iommufd_device_replace of the RID: moves an attached device to another page table in one
    /// step (an IOAS reuses or creates an automatic domain, as attach does); the old automatic
    /// domain goes when no device is left on it, and the device's pending faults on the old HWPT
    /// are answered. EINVAL while not attached; the attach errnos otherwise, and on failure the
    /// device stays where it was.
    /// </summary>
    internal int Replace(IommufdDevice idev, uint ptId, out uint hwptId)
    {
        lock (Gate)
        {
            hwptId = 0;
            if (idev.Attached is not { } old) return Errno.EINVAL.Neg();
            idev.Attached = null;
            old.Ioas.Iopt.RemoveReserved(idev);
            int rc = AttachLocked(idev, ptId, out hwptId, out _);
            if (rc < 0)
            {
                old.Ioas.Iopt.ReserveRegions(idev, idev.Driver.ReservedRegions);
                idev.Attached = old;
                return rc;
            }
            if (!ReferenceEquals(old, idev.Attached)) old.Fault?.AutoRespond(idev.Id);
            PutHwpt(old);
            return 0;
        }
    }

    internal void Detach(IommufdDevice idev)
    {
        lock (Gate)
        {
            var hwpt = idev.Attached!;
            idev.Attached = null;
            hwpt.Ioas.Iopt.RemoveReserved(idev);
            hwpt.Fault?.AutoRespond(idev.Id);
            PutHwpt(hwpt);
        }
    }

    /// <summary>iommufd_hw_pagetable_put: drops an attachment's user; an automatic domain left with none is destroyed. Caller holds <see cref="Gate"/>.</summary>
    private void PutHwpt(Hwpt hwpt)
    {
        hwpt.Users--;
        if (hwpt.AutoDomain && hwpt.Users == 1) Abort(hwpt);
    }

    /// <summary>
    /// iommufd_device_attach / iommufd_device_replace of a PASID (IOMMU_TEST_OP_PASID_ATTACH /
    /// REPLACE). Attach: the PASID attached already EBUSY; replace: not attached EINVAL, the same
    /// HWPT a no-op. pt_id naming nothing ENOENT; an IOAS uses an automatic domain, which is never
    /// PASID-compatible (EINVAL); not a HWPT EINVAL; then <see cref="CheckPasidAttach"/>. The new
    /// HWPT's id comes back in <paramref name="hwptId"/>.
    /// </summary>
    internal int PasidAttach(IommufdDevice idev, uint pasid, uint ptId, bool replace, out uint hwptId)
    {
        lock (Gate)
        {
            hwptId = ptId;
            idev.PasidAttached.TryGetValue(pasid, out var old);
            if (!replace && old is not null) return Errno.EBUSY.Neg();
            if (replace && old is null) return Errno.EINVAL.Neg();
            Hwpt hwpt;
            switch (GetAny(ptId))
            {
                case null:
                    return Errno.ENOENT.Neg();
                case Hwpt h:
                    hwpt = h;
                    break;
                case Ioas:
                    return Errno.EINVAL.Neg();
                default:
                    return Errno.EINVAL.Neg();
            }
            if (ReferenceEquals(old, hwpt)) return 0;
            int rc = CheckPasidAttach(idev, hwpt, pasid, old);
            if (rc < 0) return rc;
            hwpt.Users++;
            idev.PasidAttached[pasid] = hwpt;
            if (old is not null)
            {
                old.Fault?.AutoRespond(idev.Id);
                PutHwpt(old);
            }
            return 0;
        }
    }

    /// <summary>
    /// What a PASID attach checks after the slot (iommufd_hwpt_pasid_compat, the core's
    /// iommu_attach_device_pasid / iommu_replace_device_pasid and the mock's
    /// <c>mock_domain_set_dev_pasid_nop</c>): a domain of another IOMMU driver EINVAL; a HWPT
    /// without IOMMU_HWPT_ALLOC_PASID, or a RID attached to one that is not PASID-compatible,
    /// EINVAL; a device without PASID support (no MOCK_FLAGS_DEVICE_PASID) or a PASID at or above
    /// 2^20 EINVAL; PASID 1024's fault injection: its first attach arms it and the next attach or
    /// replace fails with ENOMEM (disarming it), a detach disarms it. Caller holds <see cref="Gate"/>.
    /// </summary>
    private static int CheckPasidAttach(IommufdDevice idev, Hwpt hwpt, uint pasid, Hwpt? old)
    {
        if (hwpt.Iommu != idev.IommuInstance) return Errno.EINVAL.Neg();
        if (!hwpt.PasidCompat || idev.Attached is { PasidCompat: false }) return Errno.EINVAL.Neg();
        byte bits = idev.Mock?.PasidBits ?? 0;
        if (bits == 0 || pasid == 0 || pasid >= 1u << bits) return Errno.EINVAL.Neg();
        if (pasid == 1024 && idev.Mock is { } mock)
        {
            if (mock.Pasid1024FakeError)
            {
                mock.Pasid1024FakeError = false;
                return Errno.ENOMEM.Neg();
            }
            mock.Pasid1024FakeError = true;
        }
        return 0;
    }

    /// <summary>iommufd_device_detach of a PASID (IOMMU_TEST_OP_PASID_DETACH): nothing attached is no error; else the HWPT loses the device (pending faults answered).</summary>
    internal void PasidDetach(IommufdDevice idev, uint pasid)
    {
        lock (Gate)
        {
            if (!idev.PasidAttached.Remove(pasid, out var hwpt)) return;
            if (pasid == 1024 && idev.Mock is { } mock) mock.Pasid1024FakeError = false; // the blocked domain's set_dev_pasid
            hwpt.Fault?.AutoRespond(idev.Id);
            PutHwpt(hwpt);
        }
    }

    /// <summary>The HWPT a PASID of the device is attached to (PASID 0 is the RID's), or null.</summary>
    internal Hwpt? PasidHwpt(IommufdDevice idev, uint pasid)
    {
        lock (Gate) return pasid == 0 ? idev.Attached : idev.PasidAttached.GetValueOrDefault(pasid);
    }

    /// <summary>A file's release drops the user it held on an object (<c>refcount_dec</c>), e.g. an event queue's fd.</summary>
    internal void DropUser(IommufdObject obj)
    {
        lock (Gate) obj.Users--;
    }

    /// <summary>Undoes what an object holds on others. Caller holds <see cref="Gate"/>.</summary>
    private void DestroyObject(IommufdObject obj)
    {
        switch (obj)
        {
            case Selftest.SelftestObject sobj:
                // iommufd_selftest_destroy: detach, unbind, the mock device goes.
                if (sobj.Idev is { } mockIdev)
                {
                    sobj.Idev = null;
                    if (mockIdev.Attached is not null) Detach(mockIdev);
                    UnbindDevice(mockIdev);
                }
                break;
            case IommufdAccess access:
                access.DetachForDestroy();
                break;
            case Vdevice vdev:
                // K2/K5: destroying a vDevice unbinds its TDI.
                if (vdev.TsmBound) Kernel.Tsm.Unbind(vdev.Function);
                vdev.Viommu.Vdevs.Remove(vdev.VirtId);
                vdev.Viommu.Users--;
                vdev.Idev.Vdevice = null;
                vdev.Idev.Users--;
                break;
            case Viommu viommu:
                viommu.Hwpt.Users--;
                viommu.Kvm?.Put();
                break;
            case HwptNested nested:
                if (nested.Viommu is { } nv) nv.Users--;
                else nested.Parent.Users--;
                if (nested.Fault is { } nf) nf.Users--;
                break;
            case HwPagetable hwpt:
                hwpt.Ioas.Iopt.RemoveDomain(hwpt);
                hwpt.Ioas.Users--;
                if (hwpt.Fault is { } pf) pf.Users--;
                break;
            case Veventq veventq:
                veventq.Destroy();
                veventq.Viommu.Veventqs.Remove(veventq.EventType);
                veventq.Viommu.Users--;
                break;
            case EventQueue queue:
                queue.Destroy();
                break;
            case HwQueue hwQueue:
                hwQueue.Destroy();
                break;
            case Ioas ioas:
                if (ReferenceEquals(VfioIoas, ioas)) VfioIoas = null;
                ioas.Iopt.UnmapAll(out _);
                break;
        }
    }

    protected override void Release()
    {
        lock (Gate)
        {
            while (true)
            {
                var leaf = objects.FirstOrDefault(o => o is not null && o.Users == 1);
                if (leaf is null) break;
                Abort(leaf);
            }
        }
        Kernel.ContextReleased(this);
    }
}
