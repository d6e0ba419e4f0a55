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
    /// <summary>memory_limit { u32 limit @16 }.</summary>
    public const int MemoryLimit = 16;

    public static readonly AbiStruct Layout = AbiStruct.Define("iommu_test_cmd", SizeOf, "last",
        new("size", Size, 4), new("op", Op, 4), new("id", Id, 4), new("__reserved", Reserved, 4), new("union", Union, 48), new("last", Last, 4));
}
