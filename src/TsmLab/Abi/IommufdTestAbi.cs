namespace TsmLab.Abi;

/// <summary>
/// <c>IOMMU_TEST_CMD</c> of drivers/iommu/iommufd/iommufd_test.h (CONFIG_IOMMUFD_TEST only) [LI10]:
/// <c>_IO(';', 0xa0)</c>, <c>struct iommu_test_cmd</c> of 72 bytes (minimum 68, to <c>last</c>),
/// <c>size</c>@0, <c>op</c>@4, <c>id</c>@8, <c>__reserved</c>@12, a union from @16. The op numbers.
/// </summary>
public static class IommuTestCmd
{
    public const uint Number = 0x3BA0;
    public const int Size = 0, Op = 4, Id = 8, Reserved = 12, Union = 16, Last = 64, SizeOf = 72;

    public const uint OpAddReserved = 1, OpMockDomain = 2, OpMdCheckMap = 3, OpMdCheckRefs = 4, OpCreateAccess = 5,
        OpDestroyAccessPages = 6, OpAccessPages = 7, OpAccessRw = 8, OpSetTempMemoryLimit = 9, OpMockDomainReplace = 10,
        OpAccessReplaceIoas = 11, OpMockDomainFlags = 12, OpDirty = 13, OpMdCheckIotlb = 14, OpTriggerIopf = 15,
        OpDevCheckCache = 16, OpTriggerVevent = 17, OpPasidAttach = 18, OpPasidReplace = 19, OpPasidDetach = 20, OpPasidCheckHwpt = 21;

    /// <summary>add_reserved { u64 start @16; u64 length @24 }.</summary>
    public const int AddReservedStart = 16, AddReservedLength = 24;
    /// <summary>check_refs { u64 length @16; u64 uptr @24; u32 refs @32 }.</summary>
    public const int CheckRefsLength = 16, CheckRefsUptr = 24, CheckRefsRefs = 32;
    /// <summary>mock_domain { u32 out_stdev_id @16; u32 out_hwpt_id @20; u32 out_idev_id @24 }; mock_domain_flags adds u32 dev_flags @28.</summary>
    public const int MockDomainOutStdevId = 16, MockDomainOutHwptId = 20, MockDomainOutIdevId = 24, MockDomainDevFlags = 28;
    /// <summary>mock_domain_replace { u32 pt_id @16 } (in and out).</summary>
    public const int MockDomainReplacePtId = 16;
    /// <summary>check_map { u64 iova @16; u64 length @24; u64 uptr @32 }.</summary>
    public const int CheckMapIova = 16, CheckMapLength = 24, CheckMapUptr = 32;
    /// <summary>check_dev_cache { u32 id @16; u32 cache @20 }; MOCK_DEV_CACHE_NUM 4 caches per mock device, each IOMMU_TEST_DEV_CACHE_DEFAULT until invalidated.</summary>
    public const int DevCacheId = 16, DevCacheValue = 20, MockDevCacheNum = 4;
    /// <summary><c>check_iotlb</c> {id, iotlb} of the union at 16.</summary>
    public const int CheckIotlbId = 16, CheckIotlbValue = 20;
    public const uint DevCacheDefault = 0xBADDAD;
    /// <summary><c>IOMMU_VIOMMU_TYPE_SELFTEST</c>: the mock driver's vIOMMU type.</summary>
    public const uint ViommuTypeSelftest = 0xDEADBEEF;
    /// <summary><c>IOMMU_HWPT_DATA_SELFTEST</c>: <c>struct iommu_hwpt_selftest { __u32 iotlb; }</c>, 4 bytes.</summary>
    public const uint HwptDataSelftest = 0xDEAD, HwptSelftestSizeOf = 4;
    /// <summary><c>MOCK_NESTED_DOMAIN_IOTLB_NUM</c>: the iotlb entries of a mock nested domain.</summary>
    public const int NestedIotlbNum = 4;
    /// <summary>dirty { u32 flags @16; u64 iova @24; u64 length @32; u64 page_size @40; u64 uptr @48; u64 out_nr_dirty @56 }.</summary>
    public const int DirtyFlags = 16, DirtyIova = 24, DirtyLength = 32, DirtyPageSize = 40, DirtyUptr = 48, DirtyOutNrDirty = 56;
    /// <summary>MOCK_FLAGS_DEVICE_* of mock_domain_flags.dev_flags.</summary>
    public const uint MockFlagNoDirty = 1, MockFlagHugeIova = 2, MockFlagPasid = 4;
    /// <summary>IOMMU_HW_INFO_TYPE_SELFTEST and <c>struct iommu_test_hw_info</c> { u32 flags; u32 test_reg = IOMMU_HW_INFO_SELFTEST_REGVAL }.</summary>
    public const uint HwInfoTypeSelftest = 0xFEEDBEEF, HwInfoSelftestRegval = 0xDEADBEEF;
    /// <summary>selftest.c: MOCK_IO_PAGE_SIZE = PAGE_SIZE / 2, MOCK_HUGE_PAGE_SIZE = 512 of them; iommufd_test.h: MOCK_APERTURE_START 1 &lt;&lt; 24, MOCK_APERTURE_LAST (1 &lt;&lt; 31) - 1; MOCK_PASID_WIDTH 20.</summary>
    public const ulong MockIoPageSize = 2048, MockHugePageSize = 512 * MockIoPageSize, MockApertureStart = 1ul << 24, MockApertureLast = (1ul << 31) - 1;
    public const byte MockPasidWidth = 20;
    /// <summary>create_access { u32 out_access_fd @16; u32 flags @20 }; MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES.</summary>
    public const int CreateAccessOutFd = 16, CreateAccessFlags = 20;
    public const uint AccessCreateNeedsPinPages = 1;
    /// <summary>destroy_access_pages { u32 access_pages_id @16 }.</summary>
    public const int DestroyAccessPagesId = 16;
    /// <summary>access_pages { u32 flags @16; u32 out_access_pages_id @20; u64 iova @24; u64 length @32; u64 uptr @40 }.</summary>
    public const int AccessPagesFlags = 16, AccessPagesOutId = 20, AccessPagesIova = 24, AccessPagesLength = 32, AccessPagesUptr = 40;
    /// <summary>access_rw { u64 iova @16; u64 length @24; u64 uptr @32; u32 flags @40 }.</summary>
    public const int AccessRwIova = 16, AccessRwLength = 24, AccessRwUptr = 32, AccessRwFlags = 40;
    /// <summary>access_replace_ioas { u32 ioas_id @16 }.</summary>
    public const int AccessReplaceIoasId = 16;
    /// <summary>MOCK_FLAGS_ACCESS_WRITE, MOCK_FLAGS_ACCESS_SYZ (access_pages.flags); MOCK_ACCESS_RW_WRITE, MOCK_ACCESS_RW_SLOW_PATH (access_rw.flags, equal to IOMMUFD_ACCESS_RW_*).</summary>
    public const uint AccessFlagWrite = 1, AccessFlagSyz = 1u << 16, AccessRwWrite = 1, AccessRwSlowPath = 1u << 2;
    /// <summary>The largest ACCESS_PAGES / ACCESS_RW length; above it ENOMEM (selftest.c's guard for kvzalloc).</summary>
    public const ulong AccessMaxLength = 16 * 1024 * 1024;
    /// <summary>trigger_iopf { u32 dev_id @16; u32 pasid @20; u32 grpid @24; u32 perm @28; u64 addr @32 }.</summary>
    public const int TriggerIopfDevId = 16, TriggerIopfPasid = 20, TriggerIopfGrpid = 24, TriggerIopfPerm = 28, TriggerIopfAddr = 32;
    /// <summary>trigger_vevent { u32 dev_id @16 }.</summary>
    public const int TriggerVeventDevId = 16;
    /// <summary>pasid_attach / pasid_replace { u32 pasid @16; u32 pt_id @20 } (pt_id in and out); pasid_detach { u32 pasid @16 }; pasid_check { u32 pasid @16; u32 hwpt_id @20 }.</summary>
    public const int PasidPasid = 16, PasidPtId = 20;
    /// <summary><c>IOMMU_VEVENTQ_TYPE_SELFTEST</c>: the mock vIOMMU's event type, whose data is <c>struct iommu_viommu_event_selftest { u32 virt_id; }</c>.</summary>
    public const uint VeventqTypeSelftest = 0xBEEFBEEF;
    /// <summary><c>IOMMU_HW_QUEUE_TYPE_SELFTEST</c> and <c>IOMMU_TEST_HW_QUEUE_MAX</c>.</summary>
    public const uint HwQueueTypeSelftest = 0xDEADBEEF, HwQueueMax = 2;
    /// <summary><c>IOMMU_HWPT_INVALIDATE_DATA_SELFTEST</c>: <c>struct iommu_hwpt_invalidate_selftest { u32 flags; u32 iotlb_id; }</c>, 8 bytes.</summary>
    public const uint HwptInvalidateDataSelftest = 0xDEADBEEF, HwptInvalidateSelftestSizeOf = 8;
    /// <summary>memory_limit { u32 limit @16 }.</summary>
    public const int MemoryLimit = 16;

    public static readonly AbiStruct Layout = AbiStruct.Define("iommu_test_cmd", SizeOf, "last",
        new("size", Size, 4), new("op", Op, 4), new("id", Id, 4), new("__reserved", Reserved, 4), new("union", Union, 48), new("last", Last, 4));
}
