namespace TsmLab.Abi;

// include/uapi/linux/vfio.h (torvalds/linux): the container ioctls iommufd's VFIO compatibility
// answers on /dev/iommu (drivers/iommu/iommufd/vfio_compat.c [LI9]), and IOMMU_VFIO_IOAS of
// include/uapi/linux/iommufd.h [LI1].

/// <summary>VFIO container ioctl numbers: <c>_IO(VFIO_TYPE=';', VFIO_BASE=100 + n)</c>, and the extension/IOMMU types.</summary>
public static class VfioContainerIoctl
{
    public const uint GetApiVersion = 0x3B64;    // VFIO_GET_API_VERSION
    public const uint CheckExtension = 0x3B65;   // VFIO_CHECK_EXTENSION
    public const uint SetIommu = 0x3B66;         // VFIO_SET_IOMMU
    public const uint IommuGetInfo = 0x3B70;     // VFIO_IOMMU_GET_INFO
    public const uint IommuMapDma = 0x3B71;      // VFIO_IOMMU_MAP_DMA
    public const uint IommuUnmapDma = 0x3B72;    // VFIO_IOMMU_UNMAP_DMA
    public const uint IommuDirtyPages = 0x3B75;  // VFIO_IOMMU_DIRTY_PAGES

    /// <summary><c>VFIO_API_VERSION</c>.</summary>
    public const int ApiVersion = 0;
    public const uint Type1Iommu = 1, Type1v2Iommu = 3, DmaCcIommu = 4, Type1NestingIommu = 6, UnmapAll = 9, UpdateVaddr = 10;
}

/// <summary><c>struct vfio_iommu_type1_dma_map</c>.</summary>
public static class VfioIommuType1DmaMap
{
    public const int Argsz = 0, Flags = 4, Vaddr = 8, Iova = 16, Size = 24, SizeOf = 32;
    public const uint FlagRead = 1u << 0, FlagWrite = 1u << 1;
    public static readonly AbiStruct Layout = AbiStruct.Define("vfio_iommu_type1_dma_map", SizeOf, "size",
        new("argsz", Argsz, 4), new("flags", Flags, 4), new("vaddr", Vaddr, 8), new("iova", Iova, 8), new("size", Size, 8));
}

/// <summary><c>struct vfio_iommu_type1_dma_unmap</c> (without the dirty-bitmap data).</summary>
public static class VfioIommuType1DmaUnmap
{
    public const int Argsz = 0, Flags = 4, Iova = 8, Size = 16, SizeOf = 24;
    /// <summary><c>VFIO_DMA_UNMAP_FLAG_ALL</c>: the only flag iommufd accepts.</summary>
    public const uint FlagAll = 1u << 1;
    public static readonly AbiStruct Layout = AbiStruct.Define("vfio_iommu_type1_dma_unmap", SizeOf, "size",
        new("argsz", Argsz, 4), new("flags", Flags, 4), new("iova", Iova, 8), new("size", Size, 8));
}

/// <summary><c>struct vfio_iommu_type1_info</c> and its capabilities (IOVA ranges, DMA available).</summary>
public static class VfioIommuType1Info
{
    public const int Argsz = 0, Flags = 4, IovaPgsizes = 8, CapOffset = 16, SizeOf = 24, MinSize = 16;
    public const uint FlagPgsizes = 1u << 0, FlagCaps = 1u << 1;
    /// <summary><c>VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE</c>: header, nr_iovas, reserved, then {start, end} pairs.</summary>
    public const ushort CapIovaRange = 1;
    /// <summary><c>VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL</c>: header, avail (12 bytes).</summary>
    public const ushort CapDmaAvail = 3;
    public const int CapHeaderSize = 8, CapIovaRangeSize = 16, IovaRangeSize = 16, CapDmaAvailSize = 12;
    public static readonly AbiStruct Layout = AbiStruct.Define("vfio_iommu_type1_info", SizeOf, "iova_pgsizes",
        new("argsz", Argsz, 4), new("flags", Flags, 4), new("iova_pgsizes", IovaPgsizes, 8), new("cap_offset", CapOffset, 4), new("pad", 20, 4));
}

/// <summary><c>struct iommu_vfio_ioas</c> (IOMMU_VFIO_IOAS, 0x3b88).</summary>
public static class IommuVfioIoas
{
    public const int Size = 0, IoasId = 4, Op = 8, Reserved = 10, SizeOf = 12;
    public const ushort OpGet = 0, OpSet = 1, OpClear = 2;
    public static readonly AbiStruct Layout = AbiStruct.Define("iommu_vfio_ioas", SizeOf, "__reserved",
        new("size", Size, 4), new("ioas_id", IoasId, 4), new("op", Op, 2), new("__reserved", Reserved, 2));
}
