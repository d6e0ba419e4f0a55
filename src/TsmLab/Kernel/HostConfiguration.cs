using TsmLab.Abi;
using TsmLab.Kernel.Pci;
using TsmLab.Kernel.Tsm;

namespace TsmLab.Kernel;

/// <summary>A PCI function the host has: where it is, what it is, and whether vfio-pci owns it.</summary>
public sealed record PciFunctionSpec(PciAddress Address, ushort VendorId, ushort DeviceId, bool TeeCapable, PciAddress? Dsm = null, bool Assignable = true, int Iommu = 0)
{
    /// <summary>An object the host attaches to the function (the TDISP device model behind it).</summary>
    public object? DeviceModel { get; init; }
}

/// <summary>A platform TSM driver the host loads: its parent device's name and how to build it.</summary>
public sealed record TsmSpec(string Parent, Func<HostKernel, ILinkTsmPlatform> Create);

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
    /// <summary>x86-64: KVM_X86_SNP_VM is available (SEV-SNP enabled in firmware).</summary>
    public bool SevSnp { get; init; }
    /// <summary>x86-64: KVM_X86_TDX_VM is available.</summary>
    public bool Tdx { get; init; }
    /// <summary>arm64: an RMM is present, so KVM_VM_TYPE_ARM_REALM is available.</summary>
    public bool Rmm { get; init; }
    public IReadOnlyList<PciFunctionSpec> Functions { get; init; } = [];
    public IReadOnlyList<TsmSpec> Tsms { get; init; } = [];
    /// <summary>Writes of "tsmN" to a PF0's tsm/connect done at boot.</summary>
    public IReadOnlyList<(PciAddress Dsm, string Tsm)> Connects { get; init; } = [];

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
            switch (type)
            {
                case KvmVmType.X86Default: return true;
                case KvmVmType.X86SnpVm when SevSnp: arch = TvmArch.Sev; return true;
                case KvmVmType.X86TdxVm when Tdx: arch = TvmArch.Tdx; return true;
                default: return false;
            }
        }
        ulong ipa = type & KvmVmType.ArmIpaSizeMask;
        ulong rest = type & ~KvmVmType.ArmIpaSizeMask;
        if (ipa != 0 && (ipa < 32 || ipa > 48)) return false;
        if (rest == 0) return true;
        if (rest == KvmVmType.ArmRealm && Rmm) { arch = TvmArch.Cca; return true; }
        return false;
    }
}
