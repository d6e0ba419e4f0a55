using System.Buffers.Binary;
using TsmLab.Abi;

namespace TsmLab.Kernel.Iommufd.Selftest;

/// <summary>
/// The mock vIOMMU's cache invalidation (selftest.c <c>mock_viommu_cache_invalidate</c>), reached
/// by IOMMU_HWPT_INVALIDATE with the vIOMMU's id: each <c>iommu_viommu_invalidate_selftest</c>
/// {flags, vdev_id, cache_id} (12 bytes) zeroes one cache entry of the mock device behind the
/// vDevice with that virt_id, or all four with IOMMU_TEST_INVALIDATE_FLAG_ALL. Called by
/// <see cref="HwptIoctls.Invalidate"/>.
/// </summary>
internal static class MockViommuInvalidate
{
    /// <summary><c>IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST</c>.</summary>
    public const uint DataSelftest = 0xDEADBEEF;
    /// <summary><c>IOMMU_TEST_INVALIDATE_FLAG_ALL</c>.</summary>
    public const uint FlagAll = 1;
    private const int EntrySize = 12, Flags = 0, VdevId = 4, CacheId = 8;

    /// <summary>
    /// A zero-length array of the selftest type validates the type (0). Otherwise
    /// <c>iommu_copy_struct_from_full_user_array</c> first copies every entry: another data
    /// type or no entries EINVAL; entry_len 12 a plain copy (EFAULT); any other entry_len each
    /// entry as copy_struct_from_user (a non-zero byte past 12 E2BIG, EFAULT). Then entry by
    /// entry: a flag other than FLAG_ALL EOPNOTSUPP; cache_id above 3 EINVAL; a vdev_id no vDevice
    /// of this vIOMMU has EINVAL. <paramref name="done"/> is the entries handled before a failure.
    /// The copy is checked in a first pass, so an entry is applied only after every entry read
    /// (the kernel's kcalloc copy) without holding an allocation of entry_num entries; a second
    /// pass re-reads them under the context's lock.
    /// </summary>
    public static int Run(IommufdContext context, Process caller, Viommu viommu, uint type, ulong uptr, uint entryLen, uint entryNum, out uint done)
    {
        done = 0;
        if (entryNum == 0 && type == DataSelftest) return 0;
        if (type != DataSelftest || entryNum == 0) return Errno.EINVAL.Neg();
        Span<byte> entry = stackalloc byte[EntrySize];
        for (uint i = 0; i < entryNum; i++)
        {
            int rc = Read(caller, uptr, entryLen, i, entry);
            if (rc < 0) return rc;
        }
        lock (context.Gate)
        {
            for (; done < entryNum; done++)
            {
                int rc = Read(caller, uptr, entryLen, done, entry);
                if (rc < 0) return rc;
                uint flags = BinaryPrimitives.ReadUInt32LittleEndian(entry[Flags..]);
                uint cacheId = BinaryPrimitives.ReadUInt32LittleEndian(entry[CacheId..]);
                if ((flags & ~FlagAll) != 0) return Errno.EOPNOTSUPP.Neg();
                if (cacheId >= IommuTestCmd.MockDevCacheNum) return Errno.EINVAL.Neg();
                if (!viommu.Vdevs.TryGetValue(BinaryPrimitives.ReadUInt32LittleEndian(entry[VdevId..]), out var vdev) || vdev.Idev.Mock is not { } mock)
                    return Errno.EINVAL.Neg();
                if ((flags & FlagAll) != 0)
                    for (int c = 0; c < IommuTestCmd.MockDevCacheNum; c++) mock.ClearCache(c);
                else mock.ClearCache((int)cacheId);
            }
        }
        return 0;
    }

    private static int Read(Process caller, ulong uptr, uint entryLen, uint index, Span<byte> entry)
    {
        ulong at = uptr + (ulong)entryLen * index;
        if (entryLen == EntrySize) return caller.UserMemory.CopyFromUser(entry, at) < 0 ? Errno.EFAULT.Neg() : 0;
        entry.Clear();
        return IommufdDispatch.CopyStructFromUser(caller.UserMemory, entry, at, entryLen);
    }
}
