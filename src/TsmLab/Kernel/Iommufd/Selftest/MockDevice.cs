using TsmLab.Abi;

namespace TsmLab.Kernel.Iommufd.Selftest;

/// <summary>
/// A mock device of the selftest driver (<c>struct mock_dev</c>, <c>mock_dev_create</c> in
/// drivers/iommu/iommufd/selftest.c) [LI10]: a device on the iommufd_mock bus behind the
/// <see cref="MockIommu"/>, named iommufd_mockN, with the MOCK_FLAGS_DEVICE_* flags it was made
/// with. It has no PCI function and no VFIO file. Created by IOMMU_TEST_OP_MOCK_DOMAIN(_FLAGS).
/// </summary>
public sealed class MockDevice
{
    /// <summary>The flags <c>mock_dev_create</c> accepts; any other bit is EINVAL.</summary>
    public const uint ValidFlags = IommuTestCmd.MockFlagNoDirty | IommuTestCmd.MockFlagHugeIova | IommuTestCmd.MockFlagPasid;

    private static int nextId;

    internal MockDevice(uint flags)
    {
        Flags = flags;
        Name = $"iommufd_mock{Interlocked.Increment(ref nextId) - 1}";
    }

    public uint Flags { get; }

    private readonly uint[] cache = [IommuTestCmd.DevCacheDefault, IommuTestCmd.DevCacheDefault, IommuTestCmd.DevCacheDefault, IommuTestCmd.DevCacheDefault];

    /// <summary>
    /// The device's MOCK_DEV_CACHE_NUM cache entries (IOMMU_TEST_DEV_CACHE_DEFAULT at creation);
    /// the mock vIOMMU's cache invalidation zeroes them (<see cref="MockViommuInvalidate"/>).
    /// Guarded by the iommufd context's Gate (the kernel's vdevs xa_lock).
    /// </summary>
    public uint Cache(int index) => cache[index];
    internal void ClearCache(int index) => cache[index] = 0;
    public string Name { get; }
    /// <summary><c>mdev->viommu</c>: the vIOMMU of the nested HWPT its RID was last attached to (null after a paging attach); guarded by the context's Gate.</summary>
    internal Viommu? Viommu { get; set; }
    /// <summary><c>mdev->vdev_id</c>: its vDevice's virt_id on <see cref="Viommu"/> at that attach.</summary>
    internal ulong VdevId { get; set; }
    /// <summary><c>pasid_1024_fake_error</c>: set by an attach of PASID 1024, so the next one fails (ENOMEM) to test the core's rollback; guarded by the context's Gate.</summary>
    internal bool Pasid1024FakeError { get; set; }
    /// <summary>IOMMU_CAP_DIRTY_TRACKING unless NO_DIRTY (<c>mock_domain_capable</c>).</summary>
    public bool DirtyCapable => (Flags & IommuTestCmd.MockFlagNoDirty) == 0;
    /// <summary>The pasid-num-bits property: MOCK_PASID_WIDTH with the PASID flag, else 0.</summary>
    public byte PasidBits => (Flags & IommuTestCmd.MockFlagPasid) != 0 ? IommuTestCmd.MockPasidWidth : (byte)0;
}
