using TsmLab.Abi;

namespace TsmLab.Kernel;

/// <summary>
/// The host's IOMMU driver as iommufd sees it: its name and the vIOMMU types its
/// <c>get_viommu_size</c> accepts. Type 3 means ARM_REALM_SMMUV3 on the Arm CCA tree and AMD
/// on the AMD tree; which one is the host's business, as in Linux. Platforms define the IOMMUs
/// of their hosts; <see cref="AmdVi"/> is here because the platform-less <c>default</c> host has one.
/// </summary>
public sealed record HostIommu(string Name, IReadOnlyList<uint> ViommuTypes)
{
    /// <summary>AMD IOMMU (IOMMU_VIOMMU_TYPE_AMD = 3).</summary>
    public static readonly HostIommu AmdVi = new("amd-iommu", [IommuViommuAlloc.TypeArmRealmSmmuV3OrAmd]);

    /// <summary>Arm SMMUv3 with the realm extension (OV: IOMMU_VIOMMU_TYPE_ARM_REALM_SMMUV3 = 3).</summary>
    public static readonly HostIommu ArmSmmuV3Realm = new("arm-smmu-v3", [IommuViommuAlloc.TypeArmSmmuV3, IommuViommuAlloc.TypeArmRealmSmmuV3OrAmd]);

    public bool SupportsViommuType(uint type) => ViommuTypes.Contains(type);
}
