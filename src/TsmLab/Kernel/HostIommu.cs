using TsmLab.Abi;

namespace TsmLab.Kernel;

/// <summary>
/// The host's IOMMU driver as iommufd sees it: its name, the vIOMMU types its
/// <c>get_viommu_size</c> accepts, what <c>hw_info</c> reports (IOMMU_GET_HW_INFO's type and
/// data), its smallest page size (the IOAS's IOVA alignment once a domain is attached), its
/// domains' aperture and the reserved regions every device behind it brings
/// (<c>get_resv_regions</c>: MSI windows and the like, which IOAS_IOVA_RANGES then excludes).
/// Type 3 means ARM_REALM_SMMUV3 on the Arm CCA tree and AMD on the AMD tree; which one is the
/// host's business, as in Linux. Platforms define the IOMMUs of their hosts; <see cref="AmdVi"/>
/// is here because the platform-less <c>default</c> host has one.
/// </summary>
public sealed record HostIommu(string Name, IReadOnlyList<uint> ViommuTypes)
{
    /// <summary>x86's interrupt window, IOMMU_RESV_MSI in the AMD and Intel drivers.</summary>
    public static readonly (ulong Start, ulong Last) X86MsiWindow = (0xFEE0_0000, 0xFEEF_FFFF);

    /// <summary>
    /// AMD IOMMU (IOMMU_VIOMMU_TYPE_AMD = 3; IOMMU_HW_INFO_TYPE_AMD = 4 with <c>struct
    /// iommu_hw_info_amd</c> {efr, efr2}). Reserved: the MSI window and the HyperTransport range
    /// 0xfd_0000_0000–0xff_ffff_ffff (amd_iommu_get_resv_regions). The EFR values are a TsmLab
    /// definition (GT, PPR, GIOSup and the SNP bit set).
    /// </summary>
    public static readonly HostIommu AmdVi = new("amd-iommu", [IommuViommuAlloc.TypeArmRealmSmmuV3OrAmd])
    {
        HwInfoType = IommuHwInfo.TypeAmd,
        HwInfo = Le64(0x0000_0000_8000_00A6ul | (1ul << 63), 0),
        ReservedRegions = [X86MsiWindow, (0xFD_0000_0000, 0xFF_FFFF_FFFF)],
    };

    /// <summary>
    /// Arm SMMUv3 with the realm extension (OV: IOMMU_VIOMMU_TYPE_ARM_REALM_SMMUV3 = 3;
    /// IOMMU_HW_INFO_TYPE_ARM_SMMUV3 = 2 with <c>struct iommu_hw_info_arm_smmuv3</c>: flags,
    /// __reserved, idr[6], iidr, aidr). Reserved: the software MSI window at 0x800_0000, 1 MiB
    /// (MSI_IOVA_BASE / MSI_IOVA_LENGTH of arm-smmu-v3). The IDR values are a TsmLab definition
    /// (48-bit IAS/OAS, 4 KiB granule, stage 1 and 2).
    /// </summary>
    public static readonly HostIommu ArmSmmuV3Realm = new("arm-smmu-v3", [IommuViommuAlloc.TypeArmSmmuV3, IommuViommuAlloc.TypeArmRealmSmmuV3OrAmd])
    {
        HwInfoType = IommuHwInfo.TypeArmSmmuV3,
        HwInfo = Le32(0, 0, 0x0C04_B0BF, 0x0000_0000, 0x0000_0000, 0x0000_0000, 0x0000_0000, 0x0000_0055, 0x4300_043B, 0x0000_0002),
        ReservedRegions = [(0x800_0000, 0x80F_FFFF)],
    };

    /// <summary><c>IOMMU_HW_INFO_TYPE_*</c> its hw_info reports; 0 (NONE) for a driver without hw_info.</summary>
    public uint HwInfoType { get; init; }

    /// <summary>The hw_info data (the type's struct, little-endian).</summary>
    public IReadOnlyList<byte> HwInfo { get; init; } = [];

    /// <summary>The smallest page size of its domains (<c>1 &lt;&lt; __ffs(pgsize_bitmap)</c>).</summary>
    public ulong PageSize { get; init; } = AddressSpace.PageSize;

    /// <summary>Its domains' <c>pgsize_bitmap</c>: TsmLab definition, 4 KiB, 2 MiB and 1 GiB for every modelled IOMMU.</summary>
    public ulong PageSizeBitmap { get; init; } = 0x4020_1000;

    /// <summary>Its paging domains' aperture (<c>geometry</c>): TsmLab definition, 48 bits for every modelled IOMMU.</summary>
    public ulong ApertureStart { get; init; }

    /// <summary>Last IOVA of the aperture.</summary>
    public ulong ApertureEnd { get; init; } = (1ul << 48) - 1;

    /// <summary>The reserved regions of every device behind it (inclusive intervals).</summary>
    public IReadOnlyList<(ulong Start, ulong Last)> ReservedRegions { get; init; } = [];

    /// <summary>IOMMU_CAP_DIRTY_TRACKING (none of the modelled IOMMUs).</summary>
    public bool DirtyTracking { get; init; }

    public bool SupportsViommuType(uint type) => ViommuTypes.Contains(type);

    /// <summary>Little-endian u32 words as bytes (for hw_info data).</summary>
    public static byte[] Le32(params uint[] words)
    {
        var b = new byte[words.Length * 4];
        for (int i = 0; i < words.Length; i++) System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(i * 4), words[i]);
        return b;
    }

    /// <summary>Little-endian u64 words as bytes (for hw_info data).</summary>
    public static byte[] Le64(params ulong[] words)
    {
        var b = new byte[words.Length * 8];
        for (int i = 0; i < words.Length; i++) System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(i * 8), words[i]);
        return b;
    }
}
