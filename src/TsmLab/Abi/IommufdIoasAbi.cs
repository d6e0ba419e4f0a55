namespace TsmLab.Abi;

// The IOAS, option and hardware-information layouts of include/uapi/linux/iommufd.h
// (torvalds/linux, v6.17 era [LI1]); minimum sizes follow the IOCTL_OP rows of
// drivers/iommu/iommufd/main.c [LI2]. See docs/abi.md.

/// <summary><c>enum iommufd_ioas_map_flags</c>: the flags of IOAS_MAP, IOAS_MAP_FILE and IOAS_COPY.</summary>
public static class IommuIoasMapFlags
{
    /// <summary><c>IOMMU_IOAS_MAP_FIXED_IOVA</c>: map at the given IOVA, else the kernel picks one.</summary>
    public const uint FixedIova = 1u << 0;
    /// <summary><c>IOMMU_IOAS_MAP_WRITEABLE</c>: DMA may write.</summary>
    public const uint Writeable = 1u << 1;
    /// <summary><c>IOMMU_IOAS_MAP_READABLE</c>: DMA may read.</summary>
    public const uint Readable = 1u << 2;
    /// <summary>Every flag the kernel knows.</summary>
    public const uint All = FixedIova | Writeable | Readable;
}

/// <summary><c>struct iommu_iova_range</c>: an inclusive IOVA interval, the element of the IOVA_RANGES and ALLOW_IOVAS arrays.</summary>
public static class IommuIovaRange
{
    public const int Start = 0, Last = 8, SizeOf = 16;
    public static readonly AbiStruct Layout = AbiStruct.Define("iommu_iova_range", SizeOf, "last",
        new("start", Start, 8), new("last", Last, 8));
}

/// <summary><c>struct iommu_ioas_iova_ranges</c>.</summary>
public static class IommuIoasIovaRanges
{
    public const int Size = 0, IoasId = 4, NumIovas = 8, Reserved = 12, AllowedIovas = 16, OutIovaAlignment = 24, SizeOf = 32;
    public static readonly AbiStruct Layout = AbiStruct.Define("iommu_ioas_iova_ranges", SizeOf, "out_iova_alignment",
        new("size", Size, 4), new("ioas_id", IoasId, 4), new("num_iovas", NumIovas, 4), new("__reserved", Reserved, 4),
        new("allowed_iovas", AllowedIovas, 8), new("out_iova_alignment", OutIovaAlignment, 8));
}

/// <summary><c>struct iommu_ioas_allow_iovas</c>.</summary>
public static class IommuIoasAllowIovas
{
    public const int Size = 0, IoasId = 4, NumIovas = 8, Reserved = 12, AllowedIovas = 16, SizeOf = 24;
    public static readonly AbiStruct Layout = AbiStruct.Define("iommu_ioas_allow_iovas", SizeOf, "allowed_iovas",
        new("size", Size, 4), new("ioas_id", IoasId, 4), new("num_iovas", NumIovas, 4), new("__reserved", Reserved, 4),
        new("allowed_iovas", AllowedIovas, 8));
}

/// <summary><c>struct iommu_ioas_map</c>.</summary>
public static class IommuIoasMap
{
    public const int Size = 0, Flags = 4, IoasId = 8, Reserved = 12, UserVa = 16, Length = 24, Iova = 32, SizeOf = 40;
    public static readonly AbiStruct Layout = AbiStruct.Define("iommu_ioas_map", SizeOf, "iova",
        new("size", Size, 4), new("flags", Flags, 4), new("ioas_id", IoasId, 4), new("__reserved", Reserved, 4),
        new("user_va", UserVa, 8), new("length", Length, 8), new("iova", Iova, 8));
}

/// <summary><c>struct iommu_ioas_map_file</c> (Linux 6.13+): <c>fd</c> is an <c>__s32</c> in Linux, the same four bytes.</summary>
public static class IommuIoasMapFile
{
    public const int Size = 0, Flags = 4, IoasId = 8, Fd = 12, Start = 16, Length = 24, Iova = 32, SizeOf = 40;
    public static readonly AbiStruct Layout = AbiStruct.Define("iommu_ioas_map_file", SizeOf, "iova",
        new("size", Size, 4), new("flags", Flags, 4), new("ioas_id", IoasId, 4), new("fd", Fd, 4),
        new("start", Start, 8), new("length", Length, 8), new("iova", Iova, 8));
}

/// <summary><c>struct iommu_ioas_copy</c>.</summary>
public static class IommuIoasCopy
{
    public const int Size = 0, Flags = 4, DstIoasId = 8, SrcIoasId = 12, Length = 16, DstIova = 24, SrcIova = 32, SizeOf = 40;
    public static readonly AbiStruct Layout = AbiStruct.Define("iommu_ioas_copy", SizeOf, "src_iova",
        new("size", Size, 4), new("flags", Flags, 4), new("dst_ioas_id", DstIoasId, 4), new("src_ioas_id", SrcIoasId, 4),
        new("length", Length, 8), new("dst_iova", DstIova, 8), new("src_iova", SrcIova, 8));
}

/// <summary><c>struct iommu_ioas_unmap</c>.</summary>
public static class IommuIoasUnmap
{
    public const int Size = 0, IoasId = 4, Iova = 8, Length = 16, SizeOf = 24;
    public static readonly AbiStruct Layout = AbiStruct.Define("iommu_ioas_unmap", SizeOf, "length",
        new("size", Size, 4), new("ioas_id", IoasId, 4), new("iova", Iova, 8), new("length", Length, 8));
}

/// <summary><c>struct iommu_option</c> with <c>enum iommufd_option</c> and <c>enum iommufd_option_ops</c>.</summary>
public static class IommuOption
{
    public const int Size = 0, OptionId = 4, Op = 8, Reserved = 10, ObjectId = 12, Val64 = 16, SizeOf = 24;
    /// <summary><c>IOMMU_OPTION_RLIMIT_MODE</c>: 0 per-user accounting (default), 1 per-process; global, object_id 0.</summary>
    public const uint RlimitMode = 0;
    /// <summary><c>IOMMU_OPTION_HUGE_PAGES</c>: 1 (default) combine pages, 0 map everything PAGE_SIZE; per IOAS.</summary>
    public const uint HugePages = 1;
    /// <summary><c>IOMMU_OPTION_OP_SET</c>.</summary>
    public const ushort OpSet = 0;
    /// <summary><c>IOMMU_OPTION_OP_GET</c>.</summary>
    public const ushort OpGet = 1;
    public static readonly AbiStruct Layout = AbiStruct.Define("iommu_option", SizeOf, "val64",
        new("size", Size, 4), new("option_id", OptionId, 4), new("op", Op, 2), new("__reserved", Reserved, 2),
        new("object_id", ObjectId, 4), new("val64", Val64, 8));
}

/// <summary>
/// <c>struct iommu_hw_info</c> (Linux 6.16+: <c>in_data_type</c>/<c>out_data_type</c> share offset 24;
/// <c>__reserved</c> is <c>__u8[3]</c>, printed here as its first byte plus two).
/// </summary>
public static class IommuHwInfo
{
    public const int Size = 0, Flags = 4, DevId = 8, DataLen = 12, DataUptr = 16, DataType = 24, OutMaxPasidLog2 = 28,
        Reserved = 29, OutCapabilities = 32, SizeOf = 40;
    /// <summary><c>IOMMU_HW_INFO_FLAG_INPUT_TYPE</c>: <c>in_data_type</c> asks for one type of a multi-type IOMMU.</summary>
    public const uint FlagInputType = 1u << 0;
    /// <summary><c>IOMMU_HW_INFO_TYPE_NONE</c> / <c>IOMMU_HW_INFO_TYPE_DEFAULT</c>.</summary>
    public const uint TypeNone = 0;
    /// <summary><c>IOMMU_HW_INFO_TYPE_INTEL_VTD</c>: <c>struct iommu_hw_info_vtd</c> (24 bytes).</summary>
    public const uint TypeIntelVtd = 1;
    /// <summary><c>IOMMU_HW_INFO_TYPE_ARM_SMMUV3</c>: <c>struct iommu_hw_info_arm_smmuv3</c> (40 bytes).</summary>
    public const uint TypeArmSmmuV3 = 2;
    /// <summary><c>IOMMU_HW_INFO_TYPE_TEGRA241_CMDQV</c>.</summary>
    public const uint TypeTegra241Cmdqv = 3;
    /// <summary><c>IOMMU_HW_INFO_TYPE_AMD</c>: <c>struct iommu_hw_info_amd</c> (16 bytes).</summary>
    public const uint TypeAmd = 4;
    /// <summary><c>IOMMU_HW_CAP_DIRTY_TRACKING</c>.</summary>
    public const ulong CapDirtyTracking = 1ul << 0;
    public static readonly AbiStruct Layout = AbiStruct.Define("iommu_hw_info", SizeOf, "__reserved2",
        new("size", Size, 4), new("flags", Flags, 4), new("dev_id", DevId, 4), new("data_len", DataLen, 4),
        new("data_uptr", DataUptr, 8), new("out_data_type", DataType, 4), new("out_max_pasid_log2", OutMaxPasidLog2, 1),
        new("__reserved", Reserved, 1), new("__reserved1", Reserved + 1, 1), new("__reserved2", Reserved + 2, 1),
        new("out_capabilities", OutCapabilities, 8));
}

/// <summary><c>struct iommu_hwpt_set_dirty_tracking</c>.</summary>
public static class IommuHwptSetDirtyTracking
{
    public const int Size = 0, Flags = 4, HwptId = 8, Reserved = 12, SizeOf = 16;
    /// <summary><c>IOMMU_HWPT_DIRTY_TRACKING_ENABLE</c>.</summary>
    public const uint FlagEnable = 1u << 0;
    public static readonly AbiStruct Layout = AbiStruct.Define("iommu_hwpt_set_dirty_tracking", SizeOf, "__reserved",
        new("size", Size, 4), new("flags", Flags, 4), new("hwpt_id", HwptId, 4), new("__reserved", Reserved, 4));
}

/// <summary><c>struct iommu_hwpt_get_dirty_bitmap</c>.</summary>
public static class IommuHwptGetDirtyBitmap
{
    public const int Size = 0, HwptId = 4, Flags = 8, Reserved = 12, Iova = 16, Length = 24, PageSize = 32, Data = 40, SizeOf = 48;
    /// <summary><c>IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR</c>.</summary>
    public const uint FlagNoClear = 1u << 0;
    public static readonly AbiStruct Layout = AbiStruct.Define("iommu_hwpt_get_dirty_bitmap", SizeOf, "data",
        new("size", Size, 4), new("hwpt_id", HwptId, 4), new("flags", Flags, 4), new("__reserved", Reserved, 4),
        new("iova", Iova, 8), new("length", Length, 8), new("page_size", PageSize, 8), new("data", Data, 8));
}

/// <summary><c>struct iommu_hwpt_invalidate</c>.</summary>
public static class IommuHwptInvalidate
{
    public const int Size = 0, HwptId = 4, DataUptr = 8, DataType = 16, EntryLen = 20, EntryNum = 24, Reserved = 28, SizeOf = 32;
    public static readonly AbiStruct Layout = AbiStruct.Define("iommu_hwpt_invalidate", SizeOf, "__reserved",
        new("size", Size, 4), new("hwpt_id", HwptId, 4), new("data_uptr", DataUptr, 8), new("data_type", DataType, 4),
        new("entry_len", EntryLen, 4), new("entry_num", EntryNum, 4), new("__reserved", Reserved, 4));
}
