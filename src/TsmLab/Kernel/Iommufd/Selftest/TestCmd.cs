using System.Buffers.Binary;
using TsmLab.Abi;

namespace TsmLab.Kernel.Iommufd.Selftest;

/// <summary>
/// <c>IOMMU_TEST_CMD</c>, the mock driver the kernel's iommufd selftests drive
/// (drivers/iommu/iommufd/selftest.c, on a kernel built with CONFIG_IOMMUFD_TEST) [LI10]. Served
/// only on hosts whose configuration asks for it (the built-in <c>selftest</c> host). The generic
/// dispatch has checked the size (min 68, zero tail); then one row per op, and an op with no row is
/// EOPNOTSUPP as the kernel's <c>default:</c> answers. Modelled so far: ADD_RESERVED,
/// MOCK_DOMAIN, MOCK_DOMAIN_FLAGS, MOCK_DOMAIN_REPLACE, MD_CHECK_MAP, MD_CHECK_REFS,
/// DEV_CHECK_CACHE, MD_CHECK_IOTLB, DIRTY, SET_TEMP_MEMORY_LIMIT, the access ops (<see cref="AccessOps"/>),
/// the triggers (<see cref="TriggerOps"/>) and the PASID ops (<see cref="PasidOps"/>): all 21.
/// </summary>
internal static class TestCmd
{
    private static readonly Dictionary<uint, IommufdHandler> Ops = new()
    {
        [IommuTestCmd.OpAddReserved] = AddReserved,
        [IommuTestCmd.OpMdCheckRefs] = CheckRefs,
        [IommuTestCmd.OpSetTempMemoryLimit] = SetTempMemoryLimit,
        [IommuTestCmd.OpMockDomain] = MockDomain,
        [IommuTestCmd.OpMockDomainFlags] = MockDomain,
        [IommuTestCmd.OpMockDomainReplace] = MockDomainReplace,
        [IommuTestCmd.OpMdCheckMap] = CheckMap,
        [IommuTestCmd.OpDevCheckCache] = DevCheckCache,
        [IommuTestCmd.OpMdCheckIotlb] = CheckIotlb,
        [IommuTestCmd.OpDirty] = Dirty,
        [IommuTestCmd.OpCreateAccess] = AccessOps.Create,
        [IommuTestCmd.OpDestroyAccessPages] = AccessOps.DestroyPages,
        [IommuTestCmd.OpAccessPages] = AccessOps.Pages,
        [IommuTestCmd.OpAccessRw] = AccessOps.Rw,
        [IommuTestCmd.OpAccessReplaceIoas] = AccessOps.ReplaceIoas,
        [IommuTestCmd.OpTriggerIopf] = TriggerOps.TriggerIopf,
        [IommuTestCmd.OpTriggerVevent] = TriggerOps.TriggerVevent,
        [IommuTestCmd.OpPasidAttach] = PasidOps.Attach,
        [IommuTestCmd.OpPasidReplace] = PasidOps.Replace,
        [IommuTestCmd.OpPasidDetach] = PasidOps.Detach,
        [IommuTestCmd.OpPasidCheckHwpt] = PasidOps.CheckHwpt,
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
    /// MOCK_DOMAIN / MOCK_DOMAIN_FLAGS (<c>iommufd_test_mock_domain</c>): the selftest object takes
    /// the next id, then a dev_flags bit outside NO_DIRTY | HUGE_IOVA | PASID is EINVAL
    /// (<c>mock_dev_create</c>; plain MOCK_DOMAIN ignores the field); the mock device is bound (the
    /// next id) and attached to cmd->id as iommufd_device_attach does (ENOENT for no object, EINVAL
    /// for one that is not an IOAS or paging HWPT or is another driver's domain, the IOAS's errnos
    /// when the mock domain joins it); out_stdev_id, out_hwpt_id and out_idev_id are written back
    /// (EFAULT undoes everything).
    /// </summary>
    private static int MockDomain(ref IommufdUcmd u)
    {
        var ctx = u.Context;
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuTestCmd.Op..]) == IommuTestCmd.OpMockDomainFlags
            ? BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuTestCmd.MockDomainDevFlags..]) : 0;
        if ((flags & ~MockDevice.ValidFlags) != 0) return Errno.EINVAL.Neg();
        var mock = new MockDevice(flags);
        var sobj = new SelftestObject(mock);
        ctx.Add(sobj);
        var idev = ctx.BindMockDevice(mock);
        int rc = ctx.Attach(idev, BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuTestCmd.Id..]), out uint hwptId, out _);
        if (rc < 0)
        {
            ctx.UnbindDevice(idev);
            ctx.Abort(sobj);
            return rc;
        }
        lock (ctx.Gate) sobj.Idev = idev;
        BinaryPrimitives.WriteUInt32LittleEndian(u.Cmd[IommuTestCmd.MockDomainOutStdevId..], sobj.Id);
        BinaryPrimitives.WriteUInt32LittleEndian(u.Cmd[IommuTestCmd.MockDomainOutHwptId..], hwptId);
        BinaryPrimitives.WriteUInt32LittleEndian(u.Cmd[IommuTestCmd.MockDomainOutIdevId..], idev.Id);
        rc = u.Respond(IommuTestCmd.SizeOf);
        if (rc < 0) ctx.Abort(sobj); // detaches and unbinds
        return rc;
    }

    /// <summary>
    /// MOCK_DOMAIN_REPLACE (<c>iommufd_test_mock_domain_replace</c>): cmd->id not a selftest
    /// object ENOENT; then iommufd_device_replace to pt_id (<see cref="IommufdContext.Replace"/>:
    /// ENOENT, EINVAL, the IOAS's errnos); the new hwpt id is written to pt_id (EFAULT).
    /// </summary>
    private static int MockDomainReplace(ref IommufdUcmd u)
    {
        var sobj = u.Context.Get<SelftestObject>(BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuTestCmd.Id..]));
        if (sobj?.Idev is not { } idev) return Errno.ENOENT.Neg();
        int rc = u.Context.Replace(idev, BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuTestCmd.MockDomainReplacePtId..]), out uint hwptId);
        if (rc < 0) return rc;
        BinaryPrimitives.WriteUInt32LittleEndian(u.Cmd[IommuTestCmd.MockDomainReplacePtId..], hwptId);
        return u.Respond(IommuTestCmd.SizeOf);
    }

    /// <summary>
    /// MD_CHECK_MAP (<c>iommufd_test_md_check_pa</c>): iova, length or uptr not a multiple of the
    /// mock IO page (PAGE_SIZE / 2), or uptr + length wrapping, EINVAL; cmd->id not a paging HWPT
    /// ENOENT, not a mock domain EINVAL; then for each IO page the caller's page at uptr must be
    /// mapped (EFAULT, as get_user_pages_fast) and the domain must map that IOVA to the same
    /// memory at the same offset, else EINVAL. The kernel compares PFNs; the model compares what
    /// it knows of the memory: the area's pages come from the caller's own address range and
    /// the IOVA's byte is the caller's byte at uptr, or they come from a real file (IOAS_MAP_FILE)
    /// and uptr lies in a mapping of that file at the same offset (/proc/TID/maps).
    /// </summary>
    private static int CheckMap(ref IommufdUcmd u)
    {
        const ulong io = IommuTestCmd.MockIoPageSize;
        ulong iova = BinaryPrimitives.ReadUInt64LittleEndian(u.Cmd[IommuTestCmd.CheckMapIova..]);
        ulong length = BinaryPrimitives.ReadUInt64LittleEndian(u.Cmd[IommuTestCmd.CheckMapLength..]);
        ulong uptr = BinaryPrimitives.ReadUInt64LittleEndian(u.Cmd[IommuTestCmd.CheckMapUptr..]);
        if (iova % io != 0 || length % io != 0 || uptr % io != 0 || uptr > ulong.MaxValue - length) return Errno.EINVAL.Neg();
        var hwpt = u.Context.Get<HwPagetable>(BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuTestCmd.Id..]));
        if (hwpt is null) return Errno.ENOENT.Neg();
        if (hwpt.Iommu != MockIommu.Instance) return Errno.EINVAL.Neg();
        var caller = u.Caller;
        var iopt = hwpt.Ioas.Iopt;
        for (; length != 0; length -= io, iova += io, uptr += io)
        {
            int rc = caller.UserMemory.CheckPinnable(uptr & ~(ulong)(AddressSpace.PageSize - 1), AddressSpace.PageSize, write: false);
            if (rc < 0) return rc;
            var area = iopt.Find(iova);
            if (area is null || !area.Filled || !SameMemory(caller, area, iova, uptr)) return Errno.EINVAL.Neg();
        }
        return 0;
    }

    /// <summary>Whether the IOVA's byte in <paramref name="area"/> is the caller's byte at <paramref name="uptr"/>.</summary>
    internal static bool SameMemory(Process caller, IoptArea area, ulong iova, ulong uptr)
    {
        ulong offset = area.StartByteAt(iova);
        return area.Pages.Source switch
        {
            UserPinSource s => ReferenceEquals(area.Pages.Owner, caller) && s.Uptr + offset == uptr,
            var s when s.TryGetFileIdentity(out var file) => caller.UserMemory.TryGetFileBacking(uptr, out var mapped, out ulong at)
                                                              && mapped == file && at == s.Base + offset,
            _ => false,
        };
    }

    /// <summary>
    /// DIRTY (<c>iommufd_test_dirty</c>): page_size or length 0, iova or length not a multiple of
    /// page_size, or uptr 0 EINVAL; cmd->id not a paging HWPT ENOENT, not a mock domain EINVAL;
    /// dirty tracking off EINVAL; a bitmap over the model's limit ENOMEM; the caller's bitmap of
    /// length / page_size bits unreadable EFAULT; then the entries are marked
    /// (<see cref="MockDirtyOps.Mark"/>) and out_nr_dirty written back (EFAULT).
    /// </summary>
    private static int Dirty(ref IommufdUcmd u)
    {
        ulong iova = BinaryPrimitives.ReadUInt64LittleEndian(u.Cmd[IommuTestCmd.DirtyIova..]);
        ulong length = BinaryPrimitives.ReadUInt64LittleEndian(u.Cmd[IommuTestCmd.DirtyLength..]);
        ulong pageSize = BinaryPrimitives.ReadUInt64LittleEndian(u.Cmd[IommuTestCmd.DirtyPageSize..]);
        ulong uptr = BinaryPrimitives.ReadUInt64LittleEndian(u.Cmd[IommuTestCmd.DirtyUptr..]);
        if (pageSize == 0 || length == 0 || iova % pageSize != 0 || length % pageSize != 0 || uptr == 0) return Errno.EINVAL.Neg();
        var hwpt = u.Context.Get<HwPagetable>(BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuTestCmd.Id..]));
        if (hwpt is null) return Errno.ENOENT.Neg();
        if (hwpt.Iommu != MockIommu.Instance) return Errno.EINVAL.Neg();
        bool tracking;
        lock (hwpt.DirtyLock) tracking = hwpt.DirtyTracking;
        if (!tracking) return Errno.EINVAL.Neg();
        ulong nbits = length / pageSize;
        ulong bytes = (nbits + 7) / 8;
        if (bytes > MockDirtyOps.MaxBitmapBytes) return Errno.ENOMEM.Neg();
        var bits = new byte[bytes];
        if (u.Caller.UserMemory.CopyFromUser(bits, uptr) < 0) return Errno.EFAULT.Neg();
        BinaryPrimitives.WriteUInt64LittleEndian(u.Cmd[IommuTestCmd.DirtyOutNrDirty..], MockDirtyOps.Mark(hwpt, iova, pageSize, bits, nbits));
        return u.Respond(IommuTestCmd.SizeOf);
    }

    /// <summary>
    /// MD_CHECK_IOTLB (<c>iommufd_test_md_check_iotlb</c>): cmd->id not a nested HWPT ENOENT
    /// (every modelled nested HWPT is the mock driver's); an IOTLB id above
    /// MOCK_NESTED_DOMAIN_IOTLB_ID_MAX (3) or an entry other than the expected value EINVAL.
    /// </summary>
    private static int CheckIotlb(ref IommufdUcmd u)
    {
        var nested = u.Context.Get<HwptNested>(BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuTestCmd.Id..]));
        if (nested is null) return Errno.ENOENT.Neg();
        uint id = BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuTestCmd.CheckIotlbId..]);
        uint expected = BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuTestCmd.CheckIotlbValue..]);
        return id >= IommuTestCmd.NestedIotlbNum || nested.Iotlb[id] != expected ? Errno.EINVAL.Neg() : 0;
    }

    /// <summary>
    /// DEV_CHECK_CACHE (<c>iommufd_test_dev_check_cache</c>): cmd->id not a device ENOENT; a cache
    /// id above MOCK_DEV_CACHE_ID_MAX (3) or an entry other than the expected value EINVAL. A
    /// device that is not a mock one is EINVAL (TsmLab definition: the kernel assumes a mock device
    /// and reads whatever memory is there).
    /// </summary>
    private static int DevCheckCache(ref IommufdUcmd u)
    {
        var idev = u.Context.Get<IommufdDevice>(BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuTestCmd.Id..]));
        if (idev is null) return Errno.ENOENT.Neg();
        uint id = BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuTestCmd.DevCacheId..]);
        uint expected = BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuTestCmd.DevCacheValue..]);
        if (idev.Mock is not { } mock || id >= IommuTestCmd.MockDevCacheNum) return Errno.EINVAL.Neg();
        lock (u.Context.Gate) return mock.Cache((int)id) != expected ? Errno.EINVAL.Neg() : 0;
    }

    /// <summary>
    /// MD_CHECK_REFS: uptr and length page-aligned and not wrapping (EINVAL); then for each page
    /// of the caller's memory (EFAULT when one is not mapped) its pin count — the number of pinned
    /// page sets of this process over it, across every iommufd on the host, counting page sets of a
    /// real file (IOAS_MAP_FILE) where the caller maps that file — must equal refs, else
    /// EIO, as <c>iommufd_test_md_check_refs</c> compares page_ref_count / GUP_PIN_COUNTING_BIAS.
    /// </summary>
    private static int CheckRefs(ref IommufdUcmd u)
    {
        ulong length = BinaryPrimitives.ReadUInt64LittleEndian(u.Cmd[IommuTestCmd.CheckRefsLength..]);
        ulong uptr = BinaryPrimitives.ReadUInt64LittleEndian(u.Cmd[IommuTestCmd.CheckRefsUptr..]);
        uint refs = BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuTestCmd.CheckRefsRefs..]);
        if (length % AddressSpace.PageSize != 0 || uptr % AddressSpace.PageSize != 0 || uptr > ulong.MaxValue - length) return Errno.EINVAL.Neg();
        var caller = u.Caller;
        var (userSets, fileSets) = PinnedPageSets(caller);
        for (ulong page = uptr; page < uptr + length; page += AddressSpace.PageSize)
        {
            int rc = caller.UserMemory.CheckPinnable(page, AddressSpace.PageSize, write: false);
            if (rc < 0) return rc;
            uint count = 0;
            foreach (var (pages, source) in userSets)
            {
                if (page < source.Uptr || page - source.Uptr >= pages.NPages * AddressSpace.PageSize) continue;
                if (pages.IsPinned((page - source.Uptr) / AddressSpace.PageSize)) count++;
            }
            // Pages pinned from a file (IOAS_MAP_FILE) are the caller's pages where it maps that file.
            if (fileSets.Count > 0 && caller.UserMemory.TryGetFileBacking(page, out var mapped, out ulong offset))
                foreach (var (pages, file) in fileSets)
                {
                    ulong b = pages.Source.Base;
                    if (file != mapped || offset < b || offset - b >= pages.NPages * AddressSpace.PageSize) continue;
                    if (pages.IsPinned((offset - b) / AddressSpace.PageSize)) count++;
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

    /// <summary>
    /// Every distinct page set of <paramref name="process"/>, in every iommufd of the host: those
    /// backed by its user memory, and those backed by a real file (with the file's identity).
    /// </summary>
    private static (List<(IoptPages Pages, UserPinSource Source)> User, List<(IoptPages Pages, FileIdentity File)> Files) PinnedPageSets(Process process)
    {
        var seen = new HashSet<IoptPages>();
        var user = new List<(IoptPages, UserPinSource)>();
        var files = new List<(IoptPages, FileIdentity)>();
        foreach (var ctx in process.Kernel.IommufdContexts)
            foreach (var ioas in ctx.Objects.OfType<Ioas>())
                foreach (var area in ioas.Iopt.Areas)
                {
                    if (!ReferenceEquals(area.Pages.Owner, process) || !seen.Add(area.Pages)) continue;
                    if (area.Pages.Source is UserPinSource s) user.Add((area.Pages, s));
                    else if (area.Pages.Source.TryGetFileIdentity(out var file)) files.Add((area.Pages, file));
                }
        return (user, files);
    }

    /// <summary>The owner of ADD_RESERVED intervals (the kernel passes NULL: nothing removes them).</summary>
    private sealed class TestReservation
    {
        public static readonly TestReservation Instance = new();
    }
}
