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
/// </summary>
public sealed class IommufdContext : KernelFile
{
    private readonly List<IommufdObject?> objects = new() { null };
    private readonly Lock objectsLock = new();

    internal IommufdContext(HostKernel kernel)
    {
        Kernel = kernel;
        Table = IommufdIoctlTable.For(kernel.Configuration.Profile);
    }

    public HostKernel Kernel { get; }
    internal IommufdIoctlTable Table { get; }
    public override string Name => "/dev/iommu";

    /// <summary>Live objects, by id.</summary>
    public IEnumerable<IommufdObject> Objects
    {
        get
        {
            lock (objectsLock) return objects.Where(o => o is not null).ToArray()!;
        }
    }

    public override long Ioctl(Process caller, uint cmd, ulong arg) => IommufdDispatch.Dispatch(this, caller, cmd, arg);

    /// <summary><c>iommufd_get_object</c>: the object of that id and type, or null (the caller answers ENOENT).</summary>
    public T? Get<T>(uint id) where T : IommufdObject
    {
        lock (objectsLock) return id < (uint)objects.Count ? objects[(int)id] as T : null;
    }

    /// <summary>The object of that id, whatever its type.</summary>
    public IommufdObject? GetAny(uint id)
    {
        lock (objectsLock) return id < (uint)objects.Count ? objects[(int)id] : null;
    }

    internal uint Add(IommufdObject obj)
    {
        lock (objectsLock)
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
    /// anything depends on it; else the object's destroy runs.
    /// </summary>
    internal int Remove(uint id)
    {
        IommufdObject? obj;
        lock (objectsLock)
        {
            obj = id < (uint)objects.Count ? objects[(int)id] : null;
            if (obj is null) return Errno.ENOENT.Neg();
            if (obj.Users != 1) return Errno.EBUSY.Neg();
            objects[(int)id] = null;
        }
        obj.Users = 0;
        DestroyObject(obj);
        return 0;
    }

    /// <summary>Drops an object that was allocated but whose ioctl failed afterwards (iommufd_object_abort_and_destroy).</summary>
    internal void Abort(IommufdObject obj)
    {
        lock (objectsLock) objects[(int)obj.Id] = null;
        obj.Users = 0;
        DestroyObject(obj);
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

    /// <summary>VFIO's unbind (iommufd_device_unbind): destroys the vDevice first, detaches, drops the context reference.</summary>
    internal void UnbindDevice(IommufdDevice idev)
    {
        if (idev.Vdevice is { } vdev) Abort(vdev);
        if (idev.Attached is not null) Detach(idev);
        lock (objectsLock) objects[(int)idev.Id] = null;
        idev.Users = 0;
        idev.Kvm?.Put();
        Put();
    }

    /// <summary>
    /// iommufd_device_attach: an IOAS id attaches to an automatic paging domain (created or
    /// reused), a paging HWPT id to that HWPT. ENOENT for an unknown id, EINVAL for another type
    /// or while attached elsewhere.
    /// </summary>
    internal int Attach(IommufdDevice idev, uint ptId, out uint hwptId, out bool changed)
    {
        hwptId = 0;
        changed = false;
        HwPagetable? hwpt;
        switch (GetAny(ptId))
        {
            case null:
                return Errno.ENOENT.Neg();
            case HwPagetable h:
                hwpt = h;
                break;
            case Ioas ioas:
                hwpt = idev.Attached is { AutoDomain: true } cur && ReferenceEquals(cur.Ioas, ioas) ? cur : null;
                if (hwpt is null)
                {
                    if (idev.Attached is not null) return Errno.EINVAL.Neg();
                    hwpt = new HwPagetable(ioas, nestParent: false, autoDomain: true, idev.Function.Iommu);
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
        hwpt.Users++;
        idev.Attached = hwpt;
        hwptId = hwpt.Id;
        changed = true;
        return 0;
    }

    internal void Detach(IommufdDevice idev)
    {
        var hwpt = idev.Attached!;
        idev.Attached = null;
        hwpt.Users--;
        if (hwpt.AutoDomain && hwpt.Users == 1) Abort(hwpt);
    }

    private void DestroyObject(IommufdObject obj)
    {
        switch (obj)
        {
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
                viommu.Kvm.Put();
                break;
            case HwPagetable hwpt:
                hwpt.Ioas.Users--;
                break;
        }
    }

    protected override void Release()
    {
        while (true)
        {
            IommufdObject? leaf;
            lock (objectsLock) leaf = objects.FirstOrDefault(o => o is not null && o.Users == 1);
            if (leaf is null) break;
            Abort(leaf);
        }
        Kernel.ContextReleased(this);
    }
}
