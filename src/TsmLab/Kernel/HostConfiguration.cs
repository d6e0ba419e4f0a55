using TsmLab.Abi;
using TsmLab.Kernel.Pci;
using TsmLab.Kernel.Tsm;
using TsmLab.Hardware;

namespace TsmLab.Kernel;

/// <summary>
/// A PCI function the host has: where it is, what it is, whether vfio-pci owns it, and what the
/// hardware offers the host: its configuration space (a minimal one with the IDs when none is
/// given) and, on a DSM, its DOE mailbox.
/// </summary>
public sealed record PciFunctionSpec(PciAddress Address, ushort VendorId, ushort DeviceId, bool TeeCapable, PciAddress? Dsm = null, bool Assignable = true, int Iommu = 0)
{
    /// <summary>The function's configuration space; null builds one holding only the IDs.</summary>
    public PciConfigSpace? Config { get; init; }

    /// <summary>The function's DOE mailbox (the DSM's), or null.</summary>
    public IDoeMailbox? Doe { get; init; }

    /// <summary>
    /// The root certificate the host provisions for this DSM: the platform TSM verifies the device's
    /// SPDM certificate chain to it at connect (TsmLab definition: the admin installs the device
    /// vendor's root with the device). Null: none provisioned, connect cannot authenticate.
    /// </summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? SpdmRoot { get; init; }
}

/// <summary>A confidential VM type KVM offers on a host: the KVM_CREATE_VM type bits and the TVM architecture they make.</summary>
public sealed record ConfidentialVmType(ulong TypeBits, TvmArch Arch);

/// <summary>
/// A platform TSM driver the host loads: its parent device's name and how to build it from the
/// booted kernel and the machine's firmware (the driver is handed the firmware interface; it never
/// builds its own).
/// </summary>
public sealed record TsmSpec(string Parent, Func<HostKernel, Machine, ILinkTsmPlatform> Create);

/// <summary>
/// Everything that makes one host: CPU architecture, the confidential VM types KVM offers, the
/// IOMMU, the ABI profile of IOMMU_VDEVICE_TSM_REQ, the PCI functions (those owned by vfio-pci
/// become /dev/vfio/devices/vfioN in order), the platform TSMs and the admin's connects.
/// </summary>
public sealed record HostConfiguration
{
    public required string Name { get; init; }
    public string Description { get; init; } = "";
    public HostArch Arch { get; init; } = HostArch.X86_64;
    public TsmAbiProfile Profile { get; init; } = TsmAbiProfile.OpArch;
    public HostIommu Iommu { get; init; } = HostIommu.AmdVi;
    /// <summary>
    /// The confidential VM types KVM offers beyond the default: on x86-64 exact type values
    /// (KVM_X86_SNP_VM when SEV-SNP is enabled, KVM_X86_TDX_VM with TDX), on arm64 flag bits above
    /// the IPA size (KVM_VM_TYPE_ARM_REALM with an RMM).
    /// </summary>
    public IReadOnlyList<ConfidentialVmType> VmTypes { get; init; } = [];
    public IReadOnlyList<PciFunctionSpec> Functions { get; init; } = [];
    /// <summary>The PCIe devices plugged into the machine (their functions are in <see cref="Functions"/>); traces attach to them.</summary>
    public IReadOnlyList<IPciEndpoint> Devices { get; init; } = [];
    /// <summary>Builds the machine's platform firmware (RMM, PSP, TDX module) on its physical memory; null: no firmware.</summary>
    public Func<PhysicalMemory, IPlatformFirmware>? Firmware { get; init; }
    /// <summary>Where the machine's DRAM allocator starts (firmware-visible buffers the kernel allocates).</summary>
    public ulong DramBase { get; init; } = 0x1_0000_0000;
    public IReadOnlyList<TsmSpec> Tsms { get; init; } = [];
    /// <summary>A kernel built with CONFIG_IOMMUFD_TEST: /dev/iommu also serves IOMMU_TEST_CMD, the selftests' mock driver (docs/selftests.md).</summary>
    public bool IommufdSelftest { get; init; }
    /// <summary>Writes of "tsmN" to a PF0's tsm/connect done at boot.</summary>
    public IReadOnlyList<(PciAddress Dsm, string Tsm)> Connects { get; init; } = [];
    /// <summary>
    /// RLIMIT_NOFILE a new process starts with: 1024 soft, 524288 hard (the kernel's boot soft
    /// limit and systemd's hard limit, <see cref="ResourceLimits"/>).
    /// </summary>
    public ResourceLimit ProcessNofile { get; init; } = new(ResourceLimits.DefaultNofileSoft, ResourceLimits.DefaultNofileHard);
    /// <summary>
    /// Whether processes (the VMM) have CAP_SYS_RESOURCE and so may raise a hard limit. Default
    /// false: a VMM runs unprivileged, as libvirt and most VMMs run it (TsmLab definition).
    /// </summary>
    public bool ProcessCapSysResource { get; init; }

    /// <summary>
    /// KVM_CREATE_VM's type check. x86-64 (kvm_is_vm_type_supported): DEFAULT, and SNP/TDX when
    /// the host offers them; arm64 (kvm_arm_setup_stage2 and the realm series): an IPA size of 0
    /// or 32..48 in bits 0-7, plus bit 8 for a realm when an RMM exists; anything else EINVAL.
    /// </summary>
    public bool TryClassifyVmType(ulong type, out TvmArch arch)
    {
        arch = TvmArch.None;
        if (Arch == HostArch.X86_64)
        {
            if (type == KvmVmType.X86Default) return true;
            foreach (var t in VmTypes)
                if (t.TypeBits == type) { arch = t.Arch; return true; }
            return false;
        }
        ulong ipa = type & KvmVmType.ArmIpaSizeMask;
        ulong rest = type & ~KvmVmType.ArmIpaSizeMask;
        if (ipa != 0 && (ipa < 32 || ipa > 48)) return false;
        if (rest == 0) return true;
        foreach (var t in VmTypes)
            if (t.TypeBits == rest) { arch = t.Arch; return true; }
        return false;
    }
}
