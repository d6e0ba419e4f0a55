using System.Buffers.Binary;
using TsmLab.Abi;

namespace TsmLab.Kernel.Iommufd;

/// <summary>
/// Handlers of the IOAS mapping ioctls (drivers/iommu/iommufd/ioas.c [LI3] over io_pagetable.c
/// [LI4] and pages.c [LI5]): MAP, UNMAP, COPY, IOVA_RANGES and ALLOW_IOVAS, each checking in the
/// kernel's order. A map without a domain attached is only recorded (Linux pins lazily); with one,
/// the pages are pinned and charged at once.
/// </summary>
internal static class IoasIoctls
{
    private const ulong UlongMax = ulong.MaxValue;

    /// <summary>
    /// IOMMU_IOAS_MAP: unknown flags or <c>__reserved</c> EOPNOTSUPP; iova or length ULONG_MAX
    /// EOVERFLOW; neither READABLE nor WRITEABLE EINVAL; ioas_id ENOENT; user_va + length
    /// overflowing EOVERFLOW; then the io_pagetable's rows (<see cref="IoPagetable.Map"/>); the
    /// chosen IOVA copied back (EFAULT leaves the mapping in place, as Linux does).
    /// </summary>
    public static int Map(ref IommufdUcmd u)
    {
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuIoasMap.Flags..]);
        if ((flags & ~IommuIoasMapFlags.All) != 0 || BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuIoasMap.Reserved..]) != 0)
            return Errno.EOPNOTSUPP.Neg();
        ulong iova = BinaryPrimitives.ReadUInt64LittleEndian(u.Cmd[IommuIoasMap.Iova..]);
        ulong length = BinaryPrimitives.ReadUInt64LittleEndian(u.Cmd[IommuIoasMap.Length..]);
        if (iova >= UlongMax || length >= UlongMax) return Errno.EOVERFLOW.Neg();
        if ((flags & (IommuIoasMapFlags.Writeable | IommuIoasMapFlags.Readable)) == 0) return Errno.EINVAL.Neg();
        var ioas = u.Context.Get<Ioas>(BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuIoasMap.IoasId..]));
        if (ioas is null) return Errno.ENOENT.Neg();

        ulong uva = BinaryPrimitives.ReadUInt64LittleEndian(u.Cmd[IommuIoasMap.UserVa..]);
        int rc = AllocUserPages(u.Context, u.Caller, uva, length, (flags & IommuIoasMapFlags.Writeable) != 0, out var pages);
        if (rc < 0) return rc;
        rc = ioas.Iopt.Map([new PagesSlice(pages!, uva % IoPagetable.PageSize, length)], length, ref iova,
            allocate: (flags & IommuIoasMapFlags.FixedIova) == 0, (flags & IommuIoasMapFlags.Readable) != 0, (flags & IommuIoasMapFlags.Writeable) != 0);
        pages!.Put(); // the areas hold their own references now
        if (rc < 0) return rc;
        BinaryPrimitives.WriteUInt64LittleEndian(u.Cmd[IommuIoasMap.Iova..], iova);
        return u.Respond(IommuIoasMap.SizeOf);
    }

    /// <summary>
    /// IOMMU_IOAS_MAP_FILE (6.13): unknown flags EOPNOTSUPP; iova or length ULONG_MAX EOVERFLOW;
    /// neither READABLE nor WRITEABLE EINVAL; ioas_id ENOENT; fd not open EBADF; start + length
    /// overflowing EOVERFLOW; then IOAS_MAP's rows, with the pin (a domain attached) EINVAL for a
    /// file that is not a memfd/shmem file or a range past its end. Under <c>tsmlab run</c> the fd
    /// is the program's own (its real memfd).
    /// </summary>
    public static int MapFile(ref IommufdUcmd u)
    {
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuIoasMapFile.Flags..]);
        if ((flags & ~IommuIoasMapFlags.All) != 0) return Errno.EOPNOTSUPP.Neg();
        ulong iova = BinaryPrimitives.ReadUInt64LittleEndian(u.Cmd[IommuIoasMapFile.Iova..]);
        ulong length = BinaryPrimitives.ReadUInt64LittleEndian(u.Cmd[IommuIoasMapFile.Length..]);
        if (iova >= UlongMax || length >= UlongMax) return Errno.EOVERFLOW.Neg();
        if ((flags & (IommuIoasMapFlags.Writeable | IommuIoasMapFlags.Readable)) == 0) return Errno.EINVAL.Neg();
        var ioas = u.Context.Get<Ioas>(BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuIoasMapFile.IoasId..]));
        if (ioas is null) return Errno.ENOENT.Neg();
        int fd = (int)BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuIoasMapFile.Fd..]);
        ulong start = BinaryPrimitives.ReadUInt64LittleEndian(u.Cmd[IommuIoasMapFile.Start..]);
        var file = u.Caller.Fget(fd);
        if (file is null) return Errno.EBADF.Neg();
        IPinSource source;
        try
        {
            if (UlongMax - start < length) return Errno.EOVERFLOW.Neg();
            if (length > UlongMax - IoPagetable.PageSize) return Errno.EINVAL.Neg();
            ulong down = start & ~(IoPagetable.PageSize - 1);
            var real = u.Caller.ForeignFilePinSource(fd, down);
            source = real ?? new FilePinSource(file, down);
        }
        finally { file.Put(); }
        ulong startByte = start % IoPagetable.PageSize;
        ulong npages = (length + startByte + IoPagetable.PageSize - 1) / IoPagetable.PageSize;
        var pages = new IoptPages(u.Caller, source, npages, (flags & IommuIoasMapFlags.Writeable) != 0, u.Context.AccountModeFor(u.Caller));
        int rc = ioas.Iopt.Map([new PagesSlice(pages, startByte, length)], length, ref iova,
            allocate: (flags & IommuIoasMapFlags.FixedIova) == 0, (flags & IommuIoasMapFlags.Readable) != 0, (flags & IommuIoasMapFlags.Writeable) != 0);
        pages.Put();
        if (rc < 0) return rc;
        BinaryPrimitives.WriteUInt64LittleEndian(u.Cmd[IommuIoasMapFile.Iova..], iova);
        return u.Respond(IommuIoasMapFile.SizeOf);
    }

    /// <summary>
    /// <c>iopt_alloc_user_pages</c>: EOVERFLOW when uptr + length wraps, EINVAL for a length the
    /// page count cannot hold; the account mode from the caller's CAP_IPC_LOCK and the context's
    /// RLIMIT_MODE.
    /// </summary>
    internal static int AllocUserPages(IommufdContext ctx, Process caller, ulong uptr, ulong length, bool writable, out IoptPages? pages)
    {
        pages = null;
        if (UlongMax - uptr < length) return Errno.EOVERFLOW.Neg();
        if (length > UlongMax - IoPagetable.PageSize) return Errno.EINVAL.Neg();
        if (Faults.FaultPlan.Fail(Faults.FaultPoint.Allocation, "iopt_pages")) return Errno.ENOMEM.Neg();
        ulong down = uptr & ~(IoPagetable.PageSize - 1);
        ulong npages = (length + (uptr - down) + IoPagetable.PageSize - 1) / IoPagetable.PageSize;
        pages = new IoptPages(caller, new UserPinSource(caller.UserMemory, caller.UserMemory.OfThisMm(), down), npages, writable, ctx.AccountModeFor(caller));
        return 0;
    }

    /// <summary>
    /// IOMMU_IOAS_UNMAP: ioas_id ENOENT; iova 0 with length U64_MAX unmaps everything (an empty
    /// IOAS included); otherwise iova or length ULONG_MAX EOVERFLOW, then
    /// <see cref="IoPagetable.Unmap"/>, and nothing unmapped ENOENT. The bytes unmapped are written back to <c>length</c>.
    /// </summary>
    public static int Unmap(ref IommufdUcmd u)
    {
        var ioas = u.Context.Get<Ioas>(BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuIoasUnmap.IoasId..]));
        if (ioas is null) return Errno.ENOENT.Neg();
        ulong iova = BinaryPrimitives.ReadUInt64LittleEndian(u.Cmd[IommuIoasUnmap.Iova..]);
        ulong length = BinaryPrimitives.ReadUInt64LittleEndian(u.Cmd[IommuIoasUnmap.Length..]);
        ulong unmapped;
        int rc;
        if (iova == 0 && length == ulong.MaxValue) rc = ioas.Iopt.UnmapAll(out unmapped);
        else if (iova >= UlongMax || length >= UlongMax) return Errno.EOVERFLOW.Neg();
        else
        {
            rc = ioas.Iopt.Unmap(iova, length, out unmapped);
            // iommufd_ioas_unmap: a range with nothing mapped is ENOENT here (VFIO's UNMAP_DMA answers 0).
            if (rc == 0 && unmapped == 0) rc = Errno.ENOENT.Neg();
        }
        if (rc < 0) return rc;
        BinaryPrimitives.WriteUInt64LittleEndian(u.Cmd[IommuIoasUnmap.Length..], unmapped);
        return u.Respond(IommuIoasUnmap.SizeOf);
    }

    /// <summary>
    /// IOMMU_IOAS_COPY: unknown flags EOPNOTSUPP; length, src_iova or dst_iova ULONG_MAX EOVERFLOW;
    /// neither READABLE nor WRITEABLE EINVAL; src_ioas_id ENOENT; the source range (length 0
    /// EINVAL, EOVERFLOW, a hole ENOENT); dst_ioas_id ENOENT; then the destination's map rows
    /// (WRITEABLE over read-only pages EPERM). The pages are shared, so they are pinned once.
    /// </summary>
    public static int Copy(ref IommufdUcmd u)
    {
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuIoasCopy.Flags..]);
        if ((flags & ~IommuIoasMapFlags.All) != 0) return Errno.EOPNOTSUPP.Neg();
        ulong length = BinaryPrimitives.ReadUInt64LittleEndian(u.Cmd[IommuIoasCopy.Length..]);
        ulong srcIova = BinaryPrimitives.ReadUInt64LittleEndian(u.Cmd[IommuIoasCopy.SrcIova..]);
        ulong dstIova = BinaryPrimitives.ReadUInt64LittleEndian(u.Cmd[IommuIoasCopy.DstIova..]);
        if (length >= UlongMax || srcIova >= UlongMax || dstIova >= UlongMax) return Errno.EOVERFLOW.Neg();
        if ((flags & (IommuIoasMapFlags.Writeable | IommuIoasMapFlags.Readable)) == 0) return Errno.EINVAL.Neg();
        var src = u.Context.Get<Ioas>(BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuIoasCopy.SrcIoasId..]));
        if (src is null) return Errno.ENOENT.Neg();
        var slices = new List<PagesSlice>();
        int rc = src.Iopt.GetPages(srcIova, length, slices);
        if (rc < 0) return rc;
        try
        {
            var dst = u.Context.Get<Ioas>(BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuIoasCopy.DstIoasId..]));
            if (dst is null) return Errno.ENOENT.Neg();
            rc = dst.Iopt.Map(slices, length, ref dstIova, allocate: (flags & IommuIoasMapFlags.FixedIova) == 0,
                (flags & IommuIoasMapFlags.Readable) != 0, (flags & IommuIoasMapFlags.Writeable) != 0);
            if (rc < 0) return rc;
            BinaryPrimitives.WriteUInt64LittleEndian(u.Cmd[IommuIoasCopy.DstIova..], dstIova);
            return u.Respond(IommuIoasCopy.SizeOf);
        }
        finally { IoPagetable.PutSlices(slices); }
    }

    /// <summary>
    /// IOMMU_IOAS_IOVA_RANGES: <c>__reserved</c> EOPNOTSUPP; ioas_id ENOENT; the usable ranges are
    /// written to allowed_iovas as far as num_iovas allows (EFAULT), num_iovas becomes their count
    /// and out_iova_alignment the IOAS's alignment (copied back, EFAULT); a count above the caller's
    /// num_iovas is EMSGSIZE after the copy-back, so the caller learns the size to allocate.
    /// </summary>
    public static int IovaRanges(ref IommufdUcmd u)
    {
        if (BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuIoasIovaRanges.Reserved..]) != 0) return Errno.EOPNOTSUPP.Neg();
        var ioas = u.Context.Get<Ioas>(BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuIoasIovaRanges.IoasId..]));
        if (ioas is null) return Errno.ENOENT.Neg();
        uint max = BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuIoasIovaRanges.NumIovas..]);
        ulong array = BinaryPrimitives.ReadUInt64LittleEndian(u.Cmd[IommuIoasIovaRanges.AllowedIovas..]);
        var ranges = ioas.Iopt.UsableRanges();
        Span<byte> elm = stackalloc byte[IommuIovaRange.SizeOf];
        uint n = 0;
        foreach (var (start, last) in ranges)
        {
            if (n < max)
            {
                BinaryPrimitives.WriteUInt64LittleEndian(elm[IommuIovaRange.Start..], start);
                BinaryPrimitives.WriteUInt64LittleEndian(elm[IommuIovaRange.Last..], last);
                if (u.Caller.UserMemory.CopyToUser(array + (ulong)n * IommuIovaRange.SizeOf, elm) < 0) return Errno.EFAULT.Neg();
            }
            n++;
        }
        BinaryPrimitives.WriteUInt32LittleEndian(u.Cmd[IommuIoasIovaRanges.NumIovas..], n);
        BinaryPrimitives.WriteUInt64LittleEndian(u.Cmd[IommuIoasIovaRanges.OutIovaAlignment..], ioas.Iopt.IovaAlignment);
        int rc = u.Respond(IommuIoasIovaRanges.SizeOf);
        if (rc < 0) return rc;
        return n > max ? Errno.EMSGSIZE.Neg() : 0;
    }

    /// <summary>
    /// IOMMU_IOAS_ALLOW_IOVAS: <c>__reserved</c> EOPNOTSUPP; ioas_id ENOENT; each range read in
    /// turn (EFAULT), start not below last EINVAL, overlapping an earlier one EINVAL; then the whole
    /// list replaces the old one unless a range meets a reserved interval (EADDRINUSE). num_iovas 0
    /// clears it. Nothing is copied back.
    /// </summary>
    public static int AllowIovas(ref IommufdUcmd u)
    {
        if (BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuIoasAllowIovas.Reserved..]) != 0) return Errno.EOPNOTSUPP.Neg();
        var ioas = u.Context.Get<Ioas>(BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuIoasAllowIovas.IoasId..]));
        if (ioas is null) return Errno.ENOENT.Neg();
        uint num = BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuIoasAllowIovas.NumIovas..]);
        ulong array = BinaryPrimitives.ReadUInt64LittleEndian(u.Cmd[IommuIoasAllowIovas.AllowedIovas..]);
        // Sorted by start, so each new range is checked against its neighbours only (O(log n)).
        var ranges = new SortedSet<(ulong Start, ulong Last)>(Comparer<(ulong Start, ulong Last)>.Create((a, b) => a.Start.CompareTo(b.Start)));
        Span<byte> elm = stackalloc byte[IommuIovaRange.SizeOf];
        for (uint i = 0; i < num; i++)
        {
            if (u.Caller.UserMemory.CopyFromUser(elm, array + (ulong)i * IommuIovaRange.SizeOf) < 0) return Errno.EFAULT.Neg();
            ulong start = BinaryPrimitives.ReadUInt64LittleEndian(elm[IommuIovaRange.Start..]);
            ulong last = BinaryPrimitives.ReadUInt64LittleEndian(elm[IommuIovaRange.Last..]);
            if (start >= last) return Errno.EINVAL.Neg();
            if (Overlaps(ranges, start, last)) return Errno.EINVAL.Neg();
            ranges.Add((start, last));
        }
        return ioas.Iopt.SetAllowed([.. ranges]);
    }

    /// <summary>
    /// IOMMU_IOAS_CHANGE_PROCESS (ioas.c <c>iommufd_ioas_change_process</c>, 6.14): <c>__reserved</c>
    /// EOPNOTSUPP; with the io_pagetable lock of every IOAS of the context held (in id order), an
    /// area whose pages are not a file's (IOAS_MAP of user memory) EINVAL; then what is pinned of
    /// each distinct page set whose charge moves (<see cref="IoptPages.NeedsChargeMove"/>) is charged
    /// to the caller per account mode (ENOMEM past its limit, every mode undone, nothing changed);
    /// then each page set's old owner is refunded and the caller becomes its owner. Access objects
    /// do not stop it (the kernel checks only the areas' kind).
    /// </summary>
    public static int ChangeProcess(ref IommufdUcmd u)
    {
        if (BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuIoasChangeProcess.Reserved..]) != 0) return Errno.EOPNOTSUPP.Neg();
        var caller = u.Caller;
        var ioases = u.Context.Objects.OfType<Ioas>().ToList(); // by id (iommufd_take_all_iova_rwsem)
        int locked = 0;
        try
        {
            foreach (var ioas in ioases)
            {
                ioas.Iopt.Gate.Enter();
                locked++;
            }
            var sets = new HashSet<IoptPages>();
            foreach (var ioas in ioases)
                foreach (var area in ioas.Iopt.Areas)
                {
                    if (area.Pages.Source is UserPinSource) return Errno.EINVAL.Neg();
                    sets.Add(area.Pages);
                }
            Span<long> byMode = stackalloc long[3];
            foreach (var pages in sets)
                if (pages.NeedsChargeMove(caller)) byMode[(int)pages.AccountMode] += pages.Pinned;
            // charge_current: mode by mode, undone on the first failure.
            for (int mode = 0; mode < byMode.Length; mode++)
            {
                if (byMode[mode] == 0) continue;
                int rc = IoptPages.Charge(caller, (PinAccountMode)mode, byMode[mode]);
                if (rc < 0)
                {
                    while (--mode >= 0)
                        if (byMode[mode] != 0) IoptPages.Refund(caller, (PinAccountMode)mode, byMode[mode]);
                    return rc;
                }
            }
            foreach (var pages in sets) pages.ChangeOwner(caller);
            return 0;
        }
        finally
        {
            for (int i = locked - 1; i >= 0; i--) ioases[i].Iopt.Gate.Exit();
        }
    }

    private static bool Overlaps(SortedSet<(ulong Start, ulong Last)> set, ulong start, ulong last)
    {
        // A view's Count walks it; Min/Max are logarithmic and give default (0, 0), never a valid range, when empty.
        if (set.Count == 0) return false;
        var below = set.GetViewBetween((0, 0), (start, 0)).Max;
        if (below != default && below.Last >= start) return true;
        return set.GetViewBetween((start, 0), (last, 0)).Min != default;
    }
}
