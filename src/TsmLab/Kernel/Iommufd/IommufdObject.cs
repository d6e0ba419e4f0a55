using TsmLab.Abi;
using TsmLab.Kernel.Kvm;
using TsmLab.Kernel.Pci;
using TsmLab.Kernel.Tsm;
using TsmLab.Kernel.Vfio;

namespace TsmLab.Kernel.Iommufd;

/// <summary><c>enum iommufd_object_type</c>, for the kinds TsmLab models.</summary>
public enum IommufdObjectType
{
    Device,
    Ioas,
    HwptPaging,
    Viommu,
    Vdevice,
    /// <summary><c>IOMMUFD_OBJ_SELFTEST</c> (CONFIG_IOMMUFD_TEST): the mock driver's device handle.</summary>
    Selftest,
    /// <summary><c>IOMMUFD_OBJ_ACCESS</c>: a driver's access to an IOAS (no uAPI of its own; the mock driver makes them).</summary>
    Access,
    /// <summary><c>IOMMUFD_OBJ_HWPT_NESTED</c>: a nested HWPT on a nest-parent HWPT or a vIOMMU (the mock driver's only).</summary>
    HwptNested,
    /// <summary><c>IOMMUFD_OBJ_FAULT</c>: an IOPF queue with its fd (IOMMU_FAULT_QUEUE_ALLOC).</summary>
    Fault,
    /// <summary><c>IOMMUFD_OBJ_VEVENTQ</c>: a vIOMMU's event queue of one type with its fd (IOMMU_VEVENTQ_ALLOC).</summary>
    Veventq,
    /// <summary><c>IOMMUFD_OBJ_HW_QUEUE</c>: a vIOMMU's HW queue in guest memory (IOMMU_HW_QUEUE_ALLOC).</summary>
    HwQueue,
}

/// <summary>
/// An object in an iommufd context's id table (<c>struct iommufd_object</c>). <see cref="Users"/>
/// is the <c>users</c> refcount: 1 for the table itself plus one per object or driver that
/// depends on it; IOMMU_DESTROY succeeds only at 1 (else EBUSY), as iommufd_object_remove.
/// </summary>
public abstract class IommufdObject
{
    public uint Id { get; internal set; }
    public abstract IommufdObjectType Type { get; }
    public int Users { get; internal set; } = 1;
    /// <summary>Short-term references of running ioctls (<c>shortterm_users</c>): atomic; taken under the context's lock after a look-up, dropped without it.</summary>
    internal int Shortterm => Volatile.Read(ref shortterm);
    private int shortterm;
    /// <summary>Takes a short-term reference (under the context's lock, after the look-up).</summary>
    internal void HoldShortterm() => Interlocked.Increment(ref shortterm);
    /// <summary>Drops one (no lock needed): the count left.</summary>
    internal int ReleaseShortterm() => Interlocked.Decrement(ref shortterm);
}

/// <summary>
/// A device bound to an iommufd (<c>struct iommufd_device</c>). Its backing is one of two: a
/// VFIO device file bound with VFIO_DEVICE_BIND_IOMMUFD (a PCI function behind the host's IOMMU),
/// or a mock device of the selftest driver (<see cref="Selftest.MockDevice"/>, IOMMU_TEST_OP_MOCK_DOMAIN:
/// no VFIO file, no PCI function, behind the mock IOMMU). <see cref="Driver"/> and
/// <see cref="IommuInstance"/> say which IOMMU the device sits behind; paths that need a PCI
/// function (vDevices, the TSM) refuse a device whose <see cref="Function"/> is null.
/// </summary>
public sealed class IommufdDevice : IommufdObject
{
    internal IommufdDevice(IommufdContext context, VfioDeviceFile file, KvmVm? kvm)
    {
        Context = context;
        File = file;
        Kvm = kvm;
        Driver = context.Kernel.Configuration.Iommu;
        IommuInstance = file.Device.Function.Iommu;
    }

    internal IommufdDevice(IommufdContext context, Selftest.MockDevice mock)
    {
        Context = context;
        Mock = mock;
        Driver = Selftest.MockIommu.Driver;
        IommuInstance = Selftest.MockIommu.Instance;
    }

    public override IommufdObjectType Type => IommufdObjectType.Device;
    public IommufdContext Context { get; }
    /// <summary>The VFIO device file it was bound through; null for a mock device.</summary>
    public VfioDeviceFile? File { get; }
    /// <summary>The selftest mock device it is; null for a VFIO-bound device.</summary>
    public Selftest.MockDevice? Mock { get; }
    /// <summary>The PCI function behind it; null for a mock device (no PCI function, so no TDI).</summary>
    public PciFunction? Function => File?.Device.Function;
    /// <summary>The IOMMU driver the device sits behind (its page size, aperture, hw_info, vIOMMU types).</summary>
    public HostIommu Driver { get; }
    /// <summary>Which IOMMU instance (a PCI function's <c>Iommu</c> index, or <see cref="Selftest.MockIommu.Instance"/>).</summary>
    public int IommuInstance { get; }
    /// <summary>A name for reports: the PCI address and VFIO file, or the mock device's name.</summary>
    public string DisplayName => Function is { } fn ? $"{fn.Address} ({File!.Name})" : Mock!.Name;
    /// <summary>The KVM captured at bind (vfio_device_get_kvm_safe); null for a mock device.</summary>
    public KvmVm? Kvm { get; }
    /// <summary>The HWPT the device's RID is attached to (paging or nested); guarded by the context's lock.</summary>
    public Hwpt? Attached { get; internal set; }
    /// <summary>The HWPTs its PASIDs are attached to (IOMMU_TEST_OP_PASID_ATTACH); guarded by the context's lock.</summary>
    internal Dictionary<uint, Hwpt> PasidAttached { get; } = new();
    public Vdevice? Vdevice { get; internal set; }
}

/// <summary>An I/O address space (<c>struct iommufd_ioas</c>).</summary>
public sealed class Ioas : IommufdObject
{
    public override IommufdObjectType Type => IommufdObjectType.Ioas;

    /// <summary>Its IOVA space: areas, reservations, allowed ranges, domains.</summary>
    public IoPagetable Iopt { get; } = new();
}

/// <summary>
/// A HW page table a device can attach to (<c>struct iommufd_hw_pagetable</c>): paging
/// (<see cref="HwPagetable"/>) or nested (<see cref="HwptNested"/>). <see cref="Paging"/> is the
/// paging HWPT whose IOAS the device's reserved regions go to (<c>find_hwpt_paging</c>).
/// </summary>
public abstract class Hwpt : IommufdObject
{
    /// <summary>The paging HWPT: itself, or a nested HWPT's parent.</summary>
    public abstract HwPagetable Paging { get; }
    /// <summary>The IOAS behind it (the paging HWPT's).</summary>
    public abstract Ioas Ioas { get; }
    /// <summary>Which IOMMU instance's domain it is.</summary>
    public abstract int Iommu { get; }
    /// <summary>Created by attaching a device to an IOAS rather than by HWPT_ALLOC.</summary>
    public virtual bool AutoDomain => false;
    /// <summary><c>pasid_compat</c>: allocated with IOMMU_HWPT_ALLOC_PASID.</summary>
    public bool PasidCompat { get; init; }
    /// <summary>The fault queue its IOPFs go to (IOMMU_HWPT_FAULT_ID_VALID), which it holds a user of.</summary>
    public FaultQueue? Fault { get; internal set; }
}

/// <summary>A paging HW page table (<c>struct iommufd_hwpt_paging</c>).</summary>
public sealed class HwPagetable : Hwpt
{
    private readonly bool autoDomain;

    internal HwPagetable(Ioas ioas, bool nestParent, bool autoDomain, int iommu)
    {
        Ioas = ioas;
        NestParent = nestParent;
        this.autoDomain = autoDomain;
        Iommu = iommu;
    }

    public override IommufdObjectType Type => IommufdObjectType.HwptPaging;
    public override HwPagetable Paging => this;
    public override Ioas Ioas { get; }
    public override int Iommu { get; }
    public bool NestParent { get; }
    public override bool AutoDomain => autoDomain;

    /// <summary>Allocated with IOMMU_HWPT_ALLOC_DIRTY_TRACKING: the domain has dirty ops (only the mock IOMMU's do).</summary>
    public bool DirtyOps { get; init; }

    /// <summary>The mock domain's MOCK_DIRTY_TRACK flag (IOMMU_HWPT_SET_DIRTY_TRACKING); guarded by <see cref="DirtyLock"/>.</summary>
    internal bool DirtyTracking { get; set; }

    /// <summary>The mock domain's IO pages (IOVA / MOCK_IO_PAGE_SIZE) with MOCK_PFN_DIRTY_IOVA set; guarded by <see cref="DirtyLock"/>.</summary>
    internal HashSet<ulong> DirtyIoPages { get; } = new();

    /// <summary>Guards <see cref="DirtyTracking"/> and <see cref="DirtyIoPages"/>. Lock order: this, then the IOAS's <see cref="IoPagetable.Gate"/> (the dirty ops look areas up while holding it); never taken under that gate.</summary>
    internal Lock DirtyLock { get; } = new();
}

/// <summary>
/// A virtual IOMMU (<c>struct iommufd_viommu</c>), with the KVM it pinned at allocation (v5
/// kvm_file); the mock driver's vIOMMU (IOMMU_VIOMMU_TYPE_SELFTEST) has none.
/// </summary>
public sealed class Viommu : IommufdObject
{
    internal Viommu(HwPagetable hwpt, uint viommuType, KvmVm? kvm, int iommu)
    {
        Hwpt = hwpt;
        ViommuType = viommuType;
        Kvm = kvm;
        Iommu = iommu;
    }

    public override IommufdObjectType Type => IommufdObjectType.Viommu;
    public HwPagetable Hwpt { get; }
    public uint ViommuType { get; }
    /// <summary>The pinned KVM; null only for the mock vIOMMU, whose devices get no vDevice, so every TSM path sees a KVM.</summary>
    public KvmVm? Kvm { get; }
    public int Iommu { get; }
    /// <summary>The vDevices by virt_id; guarded by the context's lock.</summary>
    internal Dictionary<ulong, Vdevice> Vdevs { get; } = new();
    /// <summary>Its vEVENTQs by type (one per type); guarded by the context's lock.</summary>
    internal Dictionary<uint, Veventq> Veventqs { get; } = new();
    /// <summary>The mock vIOMMU's HW queues by index; guarded by the context's lock.</summary>
    internal HwQueue?[] HwQueues { get; } = new HwQueue?[IommuTestCmd.HwQueueMax];
}

/// <summary>
/// A virtual device (<c>struct iommufd_vdevice</c>): a device as the guest sees it behind a
/// vIOMMU; <see cref="VirtId"/> is the guest requester id. Counts every TSM request refused
/// for it, by reason, and every completion left uncertain by a copy-back fault.
/// </summary>
public sealed class Vdevice : IommufdObject
{
    private readonly long[] rejections = new long[Enum.GetValues<TsmRejection>().Length];

    internal Vdevice(Viommu viommu, IommufdDevice idev, ulong virtId)
    {
        Viommu = viommu;
        Idev = idev;
        VirtId = virtId;
    }

    public override IommufdObjectType Type => IommufdObjectType.Vdevice;
    public Viommu Viommu { get; }
    public IommufdDevice Idev { get; }
    public ulong VirtId { get; }
    /// <summary>The device's PCI function: IOMMU_VDEVICE_ALLOC refuses a device without one (a mock device sits behind the mock IOMMU, which no vIOMMU of the model serves).</summary>
    /// <summary>The device's PCI function; every TSM path reaches it only through a vIOMMU with a KVM, which a mock device's never has.</summary>
    public PciFunction Function => Idev.Function!;

    /// <summary>True while the function is bound as a TDI to this vDevice's VM.</summary>
    public bool TsmBound => Idev.Function?.Tdi is { } tdi && ReferenceEquals(tdi.Vm, Viommu.Kvm);

    /// <summary>State-changing requests whose result could not be copied back (EFAULT after the change).</summary>
    public long UncertainCompletions => Interlocked.Read(ref uncertain);

    private long uncertain;

    internal void CountUncertainCompletion() => Interlocked.Increment(ref uncertain);

    /// <summary>Requests refused for <paramref name="reason"/>.</summary>
    public long Rejections(TsmRejection reason) => Interlocked.Read(ref rejections[(int)reason]);

    /// <summary>All refused requests.</summary>
    public long TotalRejections
    {
        get
        {
            long n = 0;
            for (int i = 1; i < rejections.Length; i++) n += Interlocked.Read(ref rejections[i]);
            return n;
        }
    }

    internal void CountRejection(TsmRejection reason)
    {
        if (reason != TsmRejection.None) Interlocked.Increment(ref rejections[(int)reason]);
    }
}

/// <summary>
/// A nested HWPT (<c>struct iommufd_hwpt_nested</c>): only the mock driver's
/// (<c>mock_iommu_domain_nested</c>, IOMMU_HWPT_DATA_SELFTEST), whose IOTLB entries
/// IOMMU_TEST_OP_MD_CHECK_IOTLB reads and IOMMU_HWPT_INVALIDATE clears. Made by IOMMU_HWPT_ALLOC
/// with a nest-parent paging HWPT (which it holds) or a vIOMMU (which it holds; its parent is the
/// vIOMMU's HWPT) as pt_id.
/// </summary>
public sealed class HwptNested : Hwpt
{
    internal HwptNested(HwPagetable parent, Viommu? viommu, uint iotlb)
    {
        Parent = parent;
        Viommu = viommu;
        Array.Fill(Iotlb, iotlb);
    }

    public override IommufdObjectType Type => IommufdObjectType.HwptNested;
    public override HwPagetable Paging => Parent;
    public override Ioas Ioas => Parent.Ioas;
    public override int Iommu => Parent.Iommu;
    /// <summary>The nest-parent paging HWPT.</summary>
    public HwPagetable Parent { get; }
    /// <summary>The vIOMMU it was allocated on, or null for one allocated on a paging HWPT.</summary>
    public Viommu? Viommu { get; }
    /// <summary>The MOCK_NESTED_DOMAIN_IOTLB_NUM entries, all the user's iotlb value at allocation; guarded by the context's lock.</summary>
    internal uint[] Iotlb { get; } = new uint[IommuTestCmd.NestedIotlbNum];
}
