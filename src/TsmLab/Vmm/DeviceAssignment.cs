using TsmLab.Abi;
using TsmLab.Kernel;
using TsmLab.Kernel.Pci;

namespace TsmLab.Vmm;

/// <summary>What the VMM assigns: the VFIO cdev, the VM type and the guest's view of the function.</summary>
public sealed record AssignmentPlan(string VfioPath, ulong VmType, uint ViommuType, PciAddress GuestAddress)
{
    /// <summary>The vDevice virt_id: <c>(segment &lt;&lt; 16) | PCI_DEVID(bus, devfn)</c> of the guest view.</summary>
    public ulong VirtId => GuestAddress.GuestRid;
}

/// <summary>
/// The VMM's device-assignment sequence in the order OpenVMM's design note gives (linux-uapi.md
/// §4): KVM VM, KVM VFIO device, VFIO cdev, KVM_DEV_VFIO_FILE_ADD, iommufd bind, IOAS, guest RAM
/// mapped into the IOAS (IOMMU_IOAS_MAP at IOVA = GPA, as QEMU's memory listener maps every RAM
/// section before the device can DMA), nest-parent HWPT (which pins that RAM), vIOMMU, vDevice,
/// attach, then TSM_INFO (discovery) and TSM_OP BIND. It stops at the first failing call; every
/// call is recorded with its result.
/// </summary>
public sealed class DeviceAssignment
{
    /// <summary>What libvirt grants QEMU beyond guest RAM for VFIO's pinned memory (1 GiB).</summary>
    public const ulong MemlockHeadroom = 1ul << 30;

    private readonly List<AssignmentStep> steps = new();

    /// <param name="process">The VMM.</param>
    /// <param name="plan">What to assign.</param>
    /// <param name="ram">The guest's RAM, mapped into the IOAS before the device is assigned; none leaves the IOAS empty.</param>
    public DeviceAssignment(Process process, AssignmentPlan plan, GuestRam? ram = null)
    {
        Plan = plan;
        Ram = ram;
        Calls = new IommufdCalls(process, new ScratchMemory(process));
    }

    /// <summary>The guest RAM the sequence maps, if any.</summary>
    public GuestRam? Ram { get; }

    public AssignmentPlan Plan { get; }
    public IommufdCalls Calls { get; }
    public IReadOnlyList<AssignmentStep> Steps => steps;

    public int IommuFd { get; private set; } = -1;
    public int KvmFd { get; private set; } = -1;
    public int VmFd { get; private set; } = -1;
    public int KvmVfioFd { get; private set; } = -1;
    public int VfioFd { get; private set; } = -1;
    public uint DevId { get; private set; }
    public uint IoasId { get; private set; }
    public uint HwptId { get; private set; }
    public uint ViommuId { get; private set; }
    public uint VdeviceId { get; private set; }
    /// <summary>The discovery answer, once TSM_INFO succeeded.</summary>
    public TsmInfo? Info { get; private set; }

    /// <summary>
    /// Runs the sequence up to the vDevice and TSM_INFO. True when every call succeeded.
    /// </summary>
    public bool Prepare()
    {
        var p = Calls.Process;
        if (!Step("open /dev/iommu", "open(\"/dev/iommu\")", p.Open("/dev/iommu"), r => IommuFd = (int)r)) return false;
        if (!Step("open /dev/kvm", "open(\"/dev/kvm\")", p.Open("/dev/kvm"), r => KvmFd = (int)r)) return false;
        if (!Step("create VM", $"KVM_CREATE_VM(type=0x{Plan.VmType:x})", Calls.CreateVm(KvmFd, Plan.VmType), r => VmFd = (int)r)) return false;
        int devFd = -1;
        if (!Step("create KVM VFIO device", "KVM_CREATE_DEVICE(KVM_DEV_TYPE_VFIO)", Calls.CreateVfioKvmDevice(VmFd, out devFd), _ => KvmVfioFd = devFd, () => $"fd={devFd}")) return false;
        if (!Step("open VFIO cdev", $"open(\"{Plan.VfioPath}\")", p.Open(Plan.VfioPath), r => VfioFd = (int)r)) return false;
        if (!Step("add VFIO file to KVM", "KVM_SET_DEVICE_ATTR(KVM_DEV_VFIO_FILE_ADD)", Calls.AddVfioFile(KvmVfioFd, VfioFd))) return false;
        uint id = 0;
        if (!Step("bind VFIO to iommufd", "VFIO_DEVICE_BIND_IOMMUFD", Calls.BindIommufd(VfioFd, IommuFd, out id), _ => DevId = id, () => $"dev_id={id}")) return false;
        if (!Step("allocate IOAS", "IOMMU_IOAS_ALLOC", Calls.IoasAlloc(IommuFd, out id), _ => IoasId = id, () => $"ioas_id={id}")) return false;
        if (Ram is not null && !MapGuestRam(Ram)) return false;
        if (!Step("allocate nest-parent HWPT", "IOMMU_HWPT_ALLOC(NEST_PARENT)", Calls.HwptAlloc(IommuFd, DevId, IoasId, IommuHwptAlloc.FlagNestParent, out id), _ => HwptId = id, () => $"hwpt_id={id}")) return false;
        if (!Step("allocate vIOMMU", $"IOMMU_VIOMMU_ALLOC(type={Plan.ViommuType})", Calls.ViommuAlloc(IommuFd, Plan.ViommuType, DevId, HwptId, out id), _ => ViommuId = id, () => $"viommu_id={id}")) return false;
        if (!Step("allocate vDevice", $"IOMMU_VDEVICE_ALLOC(virt_id=0x{Plan.VirtId:x})", Calls.VdeviceAlloc(IommuFd, ViommuId, DevId, Plan.VirtId, out id), _ => VdeviceId = id, () => $"vdevice_id={id}")) return false;
        if (!Step("attach to HWPT", "VFIO_DEVICE_ATTACH_IOMMUFD_PT", Calls.AttachPt(VfioFd, HwptId, out id), _ => { }, () => $"pt_id={id}")) return false;
        return Discover();
    }

    /// <summary>
    /// IOMMU_IOAS_MAP of guest RAM at IOVA = GPA 0, readable and writable. The VMM's launcher
    /// first raises RLIMIT_MEMLOCK to RAM + 1 GiB, as libvirt does for QEMU with a VFIO device
    /// (the pin happens when the HWPT joins the IOAS).
    /// </summary>
    private bool MapGuestRam(GuestRam ram)
    {
        var limits = Calls.Process.Limits;
        if (limits.MemlockLimit < ram.Size + MemlockHeadroom) limits.MemlockLimit = ram.Size + MemlockHeadroom;
        ulong iova = 0;
        return Step("map guest RAM", "IOMMU_IOAS_MAP(FIXED_IOVA|READABLE|WRITEABLE)",
            Calls.IoasMap(IommuFd, IoasId, ram.HvaBase, ram.Size, IommuIoasMapFlags.FixedIova | IommuIoasMapFlags.Readable | IommuIoasMapFlags.Writeable, ref iova),
            null, () => $"iova=0x{iova:x} length=0x{ram.Size:x}");
    }

    /// <summary>IOMMU_VDEVICE_TSM_INFO: which TSM backs the vDevice and what it serves.</summary>
    public bool Discover()
    {
        TsmInfo info = default;
        bool ok = Step("discover TSM", "IOMMU_VDEVICE_TSM_INFO", Calls.TsmInfo(IommuFd, VdeviceId, out info), _ => Info = info,
            () => $"tsm={info.TsmName ?? "none"} arch={info.TvmArch} state={info.TdiState} bound={info.Bound} ops=0x{info.SupportedOps:x}");
        return ok;
    }

    /// <summary>IOMMU_VDEVICE_TSM_OP(BIND).</summary>
    public bool Bind() => Step("bind TDI", "IOMMU_VDEVICE_TSM_OP(BIND)", Calls.TsmOp(IommuFd, VdeviceId, IommuVdeviceTsmOp.TypeBind));

    /// <summary>IOMMU_VDEVICE_TSM_OP(UNBIND).</summary>
    public bool Unbind() => Step("unbind TDI", "IOMMU_VDEVICE_TSM_OP(UNBIND)", Calls.TsmOp(IommuFd, VdeviceId, IommuVdeviceTsmOp.TypeUnbind));

    /// <summary>Records a call made outside the built-in steps (a TSM request, say).</summary>
    public bool Record(string name, string call, long result, string detail = "") => Step(name, call, result, null, () => detail);

    private bool Step(string name, string call, long result, Action<long>? onSuccess = null, Func<string>? detail = null)
    {
        if (result >= 0) onSuccess?.Invoke(result);
        steps.Add(new AssignmentStep(name, call, result, result >= 0 && detail is not null ? detail() : ""));
        return result >= 0;
    }
}
