namespace TsmLab.Kernel.Iommufd.Selftest;

/// <summary>
/// The selftest driver's object in an iommufd's id table (<c>struct selftest_obj</c> of type
/// TYPE_IDEV, IOMMUFD_OBJ_SELFTEST) [LI10]: the handle of a mock device the mock driver bound and
/// attached (its id is MOCK_DOMAIN's out_stdev_id). Destroying it detaches and unbinds the device
/// (<c>iommufd_selftest_destroy</c>). Made by <see cref="TestCmd"/>; torn down by the context.
/// </summary>
public sealed class SelftestObject : IommufdObject
{
    internal SelftestObject(MockDevice mock) => Mock = mock;

    public override IommufdObjectType Type => IommufdObjectType.Selftest;
    public MockDevice Mock { get; }
    /// <summary>The bound device, set once bind succeeded; guarded by the context's lock.</summary>
    public IommufdDevice? Idev { get; internal set; }
}
