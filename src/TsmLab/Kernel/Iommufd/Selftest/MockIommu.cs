using TsmLab.Abi;

namespace TsmLab.Kernel.Iommufd.Selftest;

/// <summary>
/// The selftest driver's mock IOMMU (drivers/iommu/iommufd/selftest.c, <c>mock_iommu</c> and
/// <c>mock_domain_alloc_paging_flags</c>) [LI10] as iommufd sees it: IO pages of PAGE_SIZE / 2
/// (so an IOAS with a mock domain aligns IOVAs to 2 KiB), aperture [MOCK_APERTURE_START,
/// MOCK_APERTURE_LAST], no reserved regions, hw_info IOMMU_HW_INFO_TYPE_SELFTEST with
/// {flags 0, test_reg 0xdeadbeef}. No vIOMMU type is listed: the model does not serve the mock
/// vIOMMU (docs/selftests.md). Used by <see cref="IommufdDevice"/> for mock devices.
/// </summary>
public static class MockIommu
{
    /// <summary>The IOMMU instance index of mock devices (PCI functions use 0 and up).</summary>
    public const int Instance = -1;

    public static readonly HostIommu Driver = new("iommufd-mock", [IommuTestCmd.ViommuTypeSelftest])
    {
        HwInfoType = IommuTestCmd.HwInfoTypeSelftest,
        HwInfo = HostIommu.Le32(0, IommuTestCmd.HwInfoSelftestRegval),
        PageSize = IommuTestCmd.MockIoPageSize,
        PageSizeBitmap = IommuTestCmd.MockIoPageSize,
        ApertureStart = IommuTestCmd.MockApertureStart,
        ApertureEnd = IommuTestCmd.MockApertureLast,
        ReservedRegions = [],
        DirtyTracking = true,
    };
}
