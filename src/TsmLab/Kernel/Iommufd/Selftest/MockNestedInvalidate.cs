using System.Buffers.Binary;
using TsmLab.Abi;

namespace TsmLab.Kernel.Iommufd.Selftest;

/// <summary>
/// The mock nested domain's IOTLB invalidation (selftest.c <c>mock_domain_cache_invalidate_user</c>),
/// reached by IOMMU_HWPT_INVALIDATE with a nested HWPT's id: each 8-byte
/// <c>iommu_hwpt_invalidate_selftest</c> {flags, iotlb_id} zeroes one IOTLB entry, or all four with
/// IOMMU_TEST_INVALIDATE_FLAG_ALL. Called by <see cref="HwptIoctls.Invalidate"/>.
/// </summary>
internal static class MockNestedInvalidate
{
    private const int EntrySize = (int)IommuTestCmd.HwptInvalidateSelftestSizeOf;

    /// <summary>
    /// data_type not IOMMU_HWPT_INVALIDATE_DATA_SELFTEST (0xdeadbeef) EINVAL (also with no
    /// entries); then entry by entry, each read by <c>iommu_copy_struct_from_user_array</c>
    /// (include/linux/iommu.h): entry_len other than 8 EINVAL (below the struct's end or above its
    /// size), unreadable EFAULT; a flag other than FLAG_ALL EOPNOTSUPP; iotlb_id above 3 EINVAL
    /// (even with FLAG_ALL). <paramref name="done"/> is the entries applied before a failure.
    /// </summary>
    public static int Run(IommufdContext context, Process caller, HwptNested nested, uint type, ulong uptr, uint entryLen, uint entryNum, out uint done)
    {
        done = 0;
        if (type != IommuTestCmd.HwptInvalidateDataSelftest) return Errno.EINVAL.Neg();
        Span<byte> entry = stackalloc byte[EntrySize];
        for (; done < entryNum; done++)
        {
            if (entryLen != EntrySize) return Errno.EINVAL.Neg();
            if (caller.UserMemory.CopyFromUser(entry, uptr + (ulong)entryLen * done) < 0) return Errno.EFAULT.Neg();
            uint flags = BinaryPrimitives.ReadUInt32LittleEndian(entry);
            uint iotlbId = BinaryPrimitives.ReadUInt32LittleEndian(entry[4..]);
            if ((flags & ~MockViommuInvalidate.FlagAll) != 0) return Errno.EOPNOTSUPP.Neg();
            if (iotlbId >= IommuTestCmd.NestedIotlbNum) return Errno.EINVAL.Neg();
            lock (context.Gate)
            {
                if ((flags & MockViommuInvalidate.FlagAll) != 0) Array.Clear(nested.Iotlb);
                else nested.Iotlb[iotlbId] = 0;
            }
        }
        return 0;
    }
}
