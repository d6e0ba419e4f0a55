using System.Buffers.Binary;
using TsmLab.Abi;

namespace TsmLab.Kernel.Iommufd.Selftest;

/// <summary>
/// <c>IOMMU_TEST_CMD</c>, the mock driver the kernel's iommufd selftests drive
/// (drivers/iommu/iommufd/selftest.c, on a kernel built with CONFIG_IOMMUFD_TEST) [LI10]. Served
/// only on hosts whose configuration asks for it (the built-in <c>selftest</c> host). The generic
/// dispatch has checked the size (min 68, zero tail); then one row per op, and an op with no row is
/// EOPNOTSUPP as the kernel's <c>default:</c> answers. Modelled so far: ADD_RESERVED,
/// MD_CHECK_REFS and SET_TEMP_MEMORY_LIMIT (docs/selftests.md says what the other ops need).
/// </summary>
internal static class TestCmd
{
    private static readonly Dictionary<uint, IommufdHandler> Ops = new()
    {
        [IommuTestCmd.OpAddReserved] = AddReserved,
        [IommuTestCmd.OpMdCheckRefs] = CheckRefs,
        [IommuTestCmd.OpSetTempMemoryLimit] = SetTempMemoryLimit,
    };

    /// <summary>The kernel's internal batch size limit the selftests lower (<c>iommufd_test_memory_limit</c>); the model accepts and records it.</summary>
    private static uint memoryLimit = 65536;

    /// <summary>The last SET_TEMP_MEMORY_LIMIT value (observation for tests).</summary>
    public static uint MemoryLimit => Volatile.Read(ref memoryLimit);

    public static int Dispatch(ref IommufdUcmd u) =>
        Ops.TryGetValue(BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuTestCmd.Op..]), out var op) ? op(ref u) : Errno.EOPNOTSUPP.Neg();

    /// <summary>
    /// ADD_RESERVED: a length of 0 is EINVAL; start + length - 1 overflowing is EOVERFLOW; the IOAS
    /// is looked up (ENOENT); then the interval is reserved as <c>iopt_reserve_iova</c> does
    /// (EADDRINUSE over an area or an allowed interval). The reservation has no owner and stays.
    /// </summary>
    private static int AddReserved(ref IommufdUcmd u)
    {
        ulong start = BinaryPrimitives.ReadUInt64LittleEndian(u.Cmd[IommuTestCmd.AddReservedStart..]);
        ulong length = BinaryPrimitives.ReadUInt64LittleEndian(u.Cmd[IommuTestCmd.AddReservedLength..]);
        if (length == 0) return Errno.EINVAL.Neg();
        if (start > ulong.MaxValue - (length - 1)) return Errno.EOVERFLOW.Neg();
        var ioas = u.Context.Get<Ioas>(BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuTestCmd.Id..]));
        if (ioas is null) return Errno.ENOENT.Neg();
        return ioas.Iopt.ReserveRegions(TestReservation.Instance, [(start, start + length - 1)]);
    }

    /// <summary>
    /// MD_CHECK_REFS: uptr and length page-aligned and not wrapping (EINVAL); then for each page
    /// of the caller's memory (EFAULT when one is not mapped) its pin count — the number of pinned
    /// page sets of this process over it, across every iommufd on the host — must equal refs, else
    /// EIO, as <c>iommufd_test_md_check_refs</c> compares page_ref_count / GUP_PIN_COUNTING_BIAS.
    /// </summary>
    private static int CheckRefs(ref IommufdUcmd u)
    {
        ulong length = BinaryPrimitives.ReadUInt64LittleEndian(u.Cmd[IommuTestCmd.CheckRefsLength..]);
        ulong uptr = BinaryPrimitives.ReadUInt64LittleEndian(u.Cmd[IommuTestCmd.CheckRefsUptr..]);
        uint refs = BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuTestCmd.CheckRefsRefs..]);
        if (length % AddressSpace.PageSize != 0 || uptr % AddressSpace.PageSize != 0 || uptr > ulong.MaxValue - length) return Errno.EINVAL.Neg();
        var caller = u.Caller;
        var pageSets = PinnedUserPages(caller);
        for (ulong page = uptr; page < uptr + length; page += AddressSpace.PageSize)
        {
            int rc = caller.UserMemory.CheckPinnable(page, AddressSpace.PageSize, write: false);
            if (rc < 0) return rc;
            uint count = 0;
            foreach (var (pages, source) in pageSets)
            {
                if (page < source.Uptr || page - source.Uptr >= pages.NPages * AddressSpace.PageSize) continue;
                if (pages.IsPinned((page - source.Uptr) / AddressSpace.PageSize)) count++;
            }
            if (count != refs) return Errno.EIO.Neg();
        }
        return 0;
    }

    /// <summary>SET_TEMP_MEMORY_LIMIT: below sizeof(unsigned long) + sizeof(u32) = 12 is EINVAL; otherwise recorded (it only sizes the kernel's internal batches).</summary>
    private static int SetTempMemoryLimit(ref IommufdUcmd u)
    {
        uint limit = BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuTestCmd.MemoryLimit..]);
        if (limit < sizeof(ulong) + sizeof(uint)) return Errno.EINVAL.Neg();
        Volatile.Write(ref memoryLimit, limit);
        return 0;
    }

    /// <summary>Every distinct page set of <paramref name="process"/> backed by its user memory, in every iommufd of the host.</summary>
    private static List<(IoptPages Pages, UserPinSource Source)> PinnedUserPages(Process process)
    {
        var seen = new HashSet<IoptPages>();
        var list = new List<(IoptPages, UserPinSource)>();
        foreach (var ctx in process.Kernel.IommufdContexts)
            foreach (var ioas in ctx.Objects.OfType<Ioas>())
                foreach (var area in ioas.Iopt.Areas)
                    if (ReferenceEquals(area.Pages.Owner, process) && area.Pages.Source is UserPinSource s && seen.Add(area.Pages))
                        list.Add((area.Pages, s));
        return list;
    }

    /// <summary>The owner of ADD_RESERVED intervals (the kernel passes NULL: nothing removes them).</summary>
    private sealed class TestReservation
    {
        public static readonly TestReservation Instance = new();
    }
}
