using TsmLab.Kernel;
using TsmLab.Platforms.Tdx.Firmware;

namespace TsmLab.Platforms.Tdx.HostDriver;

/// <summary>
/// Intel VT-d as the TDX host has it: the IOMMU driver iommufd sees, with the vIOMMU type the
/// TDX assignment uses, and the DMA remapping units (DRHDs) the tdx-host driver sets up for TDX
/// Connect. The VT-d patches reserve the domain id's MSB for the module [TX7]; trusted DMA
/// follows the module's PASID entry, which only the TD can make present.
/// </summary>
public static class VtdIommu
{
    /// <summary>
    /// TsmLab definition: Linux has no Intel vIOMMU type yet; the TDX sketch asks for a
    /// KVM-backed one [TX16]. TsmLab gives it 4, the next number after the trees' 3.
    /// </summary>
    public const uint ViommuTypeTdx = 4;

    /// <summary>
    /// The host IOMMU record of a TDX host: IOMMU_HW_INFO_TYPE_INTEL_VTD (1) with <c>struct
    /// iommu_hw_info_vtd</c> {flags, __reserved, cap_reg, ecap_reg} (register values a TsmLab
    /// definition: 48-bit SAGAW/MGAW, nesting and PASID in ECAP) and the x86 MSI window reserved.
    /// </summary>
    public static readonly HostIommu IntelVtd = new("intel-vtd", [ViommuTypeTdx])
    {
        HwInfoType = 1,
        HwInfo = [.. HostIommu.Le32(0, 0), .. HostIommu.Le64(0x00D2_0086_C046_2F0Ful, 0x02F0_0000_00F0_50DAul)],
        ReservedRegions = [HostIommu.X86MsiWindow],
    };

    /// <summary>
    /// The built-in host's DRHDs: the PCIe root complex's unit (TDX mode) and the integrated
    /// graphics unit, which has no TDX mode and answers TDH.IOMMU.SETUP with OPERAND_INVALID [TX4].
    /// </summary>
    public static readonly IReadOnlyList<TdxDrhd> DefaultDrhds =
    [
        new(0xFED9_1000, TdxCapable: true, "PCIe root complex, segment 0"),
        new(0xFED9_0000, TdxCapable: false, "integrated graphics"),
    ];
}
