using TsmLab.Abi;

namespace TsmLab.Kernel.Iommufd.Selftest;

/// <summary>
/// The mock domain's dirty ops (drivers/iommu/iommufd/selftest.c <c>dirty_ops</c>) and the
/// iommufd side that drives them (io_pagetable.c <c>iopt_set_dirty_tracking</c>,
/// <c>iommu_read_and_clear_dirty</c>, iova_bitmap.c) [LI10][LI4]: a dirty bit per mapped 2 KiB IO
/// page, set by IOMMU_TEST_OP_DIRTY, read (and cleared unless NO_CLEAR) into the caller's bitmap
/// by IOMMU_HWPT_GET_DIRTY_BITMAP. Only HWPTs allocated with DIRTY_TRACKING have them. Called by
/// <see cref="HwptIoctls"/> and <see cref="TestCmd"/>. Huge IO pages (HUGE_IOVA) are not modelled:
/// every entry is one IO page. A bit is only seen while its IO page is mapped.
/// </summary>
internal static class MockDirtyOps
{
    private const ulong Io = IommuTestCmd.MockIoPageSize;

    /// <summary>The largest bitmap the model reads or writes in one call (TsmLab definition: above it ENOMEM, where the kernel's kvzalloc would fail).</summary>
    public const ulong MaxBitmapBytes = 16 << 20;

    /// <summary><c>iopt_set_dirty_tracking</c> + <c>mock_domain_set_dirty_tracking</c>: enabling first clears every dirty bit.</summary>
    public static int SetTracking(HwPagetable hwpt, bool enable)
    {
        lock (hwpt.DirtyLock)
        {
            if (enable) hwpt.DirtyIoPages.Clear();
            hwpt.DirtyTracking = enable;
        }
        return 0;
    }

    /// <summary>Whether the domain maps the IO page at <paramref name="iova"/> (an entry exists in the mock's pfns).</summary>
    public static bool Mapped(HwPagetable hwpt, ulong iova) => hwpt.Ioas.Iopt.Find(iova) is { Filled: true };

    /// <summary>
    /// IOMMU_TEST_OP_DIRTY after its checks: for each set bit i of the caller's bitmap, the entry at
    /// index (iova + i * page_size) / page_size — the kernel indexes by page_size, not by IO page —
    /// gets its dirty bit if it exists; the count of those is returned.
    /// </summary>
    public static ulong Mark(HwPagetable hwpt, ulong iova, ulong pageSize, ReadOnlySpan<byte> bits, ulong nbits)
    {
        ulong count = 0;
        lock (hwpt.DirtyLock)
            for (ulong i = 0; i < nbits; i++)
            {
                if ((bits[(int)(i / 8)] & (1 << (int)(i % 8))) == 0) continue;
                ulong index = (iova + i * pageSize) / pageSize;
                if (!Mapped(hwpt, index * Io)) continue;
                hwpt.DirtyIoPages.Add(index);
                count++;
            }
        return count;
    }

    /// <summary>
    /// IOMMU_HWPT_GET_DIRTY_BITMAP once the range is checked: with tracking off nothing is recorded
    /// (the mock's EINVAL is dropped by iova_bitmap_for_each, so the ioctl still answers 0); else each
    /// mapped dirty IO page in [iova, iova + length) sets its bit(s) — bit k for IOVA iova + k * page_size,
    /// counted from the first bit of <paramref name="data"/> — and loses its dirty bit unless
    /// <paramref name="noClear"/>. Bits already set in the caller's bitmap stay; a bitmap the
    /// caller cannot write gets nothing (iova_bitmap pins lazily and gives up silently).
    /// </summary>
    public static int ReadAndClear(HwPagetable hwpt, IUserMemory memory, ulong iova, ulong length, ulong pageSize, ulong data, bool noClear)
    {
        ulong nbits = length / pageSize;
        ulong bytes = (nbits + 7) / 8;
        if (bytes > MaxBitmapBytes) return Errno.ENOMEM.Neg();
        var bitmap = new byte[bytes];
        bool any = false;
        lock (hwpt.DirtyLock)
        {
            if (!hwpt.DirtyTracking) return 0;
            for (ulong cur = iova; cur - iova < length; cur += Io)
            {
                ulong index = cur / Io;
                if (!hwpt.DirtyIoPages.Contains(index) || !Mapped(hwpt, cur)) continue;
                if (!noClear) hwpt.DirtyIoPages.Remove(index);
                ulong first = (cur - iova) / pageSize, last = Math.Min((cur + Io - 1 - iova) / pageSize, nbits - 1);
                for (ulong b = first; b <= last; b++) bitmap[b / 8] |= (byte)(1 << (int)(b % 8));
                any = true;
            }
        }
        if (!any) return 0;
        var user = new byte[bytes];
        if (memory.CopyFromUser(user, data) < 0) return 0;
        for (int i = 0; i < user.Length; i++) user[i] |= bitmap[i];
        memory.CopyToUser(data, user);
        return 0;
    }
}
