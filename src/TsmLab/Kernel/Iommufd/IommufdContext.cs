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
            if (idev.Attached is not null) Detach(idev);
            if (ReferenceEquals(objects[(int)idev.Id], idev)) objects[(int)idev.Id] = null;
            idev.Users = 0;
        }
        idev.Kvm?.Put();
        if (idev.File is not null) Put();
    }

    /// <summary>
    /// iommufd_device_attach: an IOAS id attaches to an automatic paging domain (created or
    /// reused), a paging HWPT id to that HWPT. ENOENT for an unknown id, EINVAL for another type
    /// or while attached elsewhere.
    /// </summary>
    internal int Attach(IommufdDevice idev, uint ptId, out uint hwptId, out bool changed)
    {
        lock (Gate) return AttachLocked(idev, ptId, out hwptId, out changed);
    }

    private int AttachLocked(IommufdDevice idev, uint ptId, out uint hwptId, out bool changed)
    {
        hwptId = 0;
        changed = false;
        HwPagetable? hwpt;
        var iommu = idev.Driver;
        bool reserved = false;
        switch (GetAny(ptId))
        {
            case null:
                return Errno.ENOENT.Neg();
            case HwPagetable h:
                // iommufd_hw_pagetable_attach: a domain of another IOMMU driver cannot take the device.
                if (h.Iommu != idev.IommuInstance && (h.Iommu == Selftest.MockIommu.Instance || idev.IommuInstance == Selftest.MockIommu.Instance)) return Errno.EINVAL.Neg();
                // mock_domain_nop_attach: a NO_DIRTY mock device cannot join a domain with dirty ops.
                if (h.DirtyOps && idev.Mock is { DirtyCapable: false }) return Errno.EINVAL.Neg();
                hwpt = h;
                break;
            case Ioas ioas:
                hwpt = idev.Attached is { AutoDomain: true } cur && ReferenceEquals(cur.Ioas, ioas) ? cur : null;
                if (hwpt is null && idev.Attached is not null) return Errno.EINVAL.Neg();
                // iommufd_device_auto_get_domain: any automatic domain of the IOAS that takes the device is reused.
                hwpt ??= objects.OfType<HwPagetable>().FirstOrDefault(h => h.AutoDomain && ReferenceEquals(h.Ioas, ioas) && h.Iommu == idev.IommuInstance);
                if (hwpt is null)
                {
                    // iommufd_hwpt_paging_alloc(immediate_attach): the device's reserved regions, then the domain joins the IOAS.
                    int rc = ioas.Iopt.ReserveRegions(idev, iommu.ReservedRegions);
                    if (rc < 0) return rc;
                    hwpt = new HwPagetable(ioas, nestParent: false, autoDomain: true, idev.IommuInstance);
                    rc = ioas.Iopt.AddDomain(hwpt, iommu.PageSize, iommu.ApertureStart, iommu.ApertureEnd);
                    if (rc < 0)
                    {
                        ioas.Iopt.RemoveReserved(idev);
                        return rc;
                    }
                    reserved = true;
                    ioas.Users++;
                    Add(hwpt);
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
        hwptId = hwpt.Id;
        changed = true;
        return 0;
    }

    /// <summary>
    /// iommufd_device_replace: moves an attached device to another page table in one step (an IOAS
    /// reuses or creates an automatic domain, as attach does); the old automatic domain goes when
    /// no device is left on it. EINVAL while not attached; the attach errnos otherwise, and on
    /// failure the device stays where it was.
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
            old.Users--;
            if (old.AutoDomain && old.Users == 1) Abort(old);
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
            hwpt.Users--;
            if (hwpt.AutoDomain && hwpt.Users == 1) Abort(hwpt);
        }
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
                nested.Viommu.Users--;
                break;
            case HwPagetable hwpt:
                hwpt.Ioas.Iopt.RemoveDomain(hwpt);
                hwpt.Ioas.Users--;
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
