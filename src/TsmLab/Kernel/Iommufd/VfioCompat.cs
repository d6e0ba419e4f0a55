using System.Buffers.Binary;
using TsmLab.Abi;

namespace TsmLab.Kernel.Iommufd;

/// <summary>
/// iommufd's VFIO type1 compatibility on /dev/iommu (drivers/iommu/iommufd/vfio_compat.c [LI9]):
/// the container ioctls a VMM written for <c>/dev/vfio/vfio</c> uses, served on one "compat"
/// IOAS, and IOMMU_VFIO_IOAS that chooses it. Without groups (the model has only VFIO cdevs) no
/// compat IOAS is created implicitly: it exists once IOMMU_VFIO_IOAS SET names one, else the
/// ioctls that need it are ENODEV. Unknown numbers are ENOTTY (ENOIOCTLCMD).
/// </summary>
internal static class VfioCompat
{
    /// <summary>The container ioctls (<c>iommufd_vfio_ioctl</c>): called for numbers outside the iommufd table.</summary>
    public static int Ioctl(IommufdContext ctx, Process caller, uint cmd, ulong arg) => cmd switch
    {
        VfioContainerIoctl.GetApiVersion => VfioContainerIoctl.ApiVersion,
        VfioContainerIoctl.SetIommu => SetIommu(ctx, arg),
        VfioContainerIoctl.CheckExtension => CheckExtension(ctx, arg),
        VfioContainerIoctl.IommuGetInfo => GetInfo(ctx, caller.UserMemory, arg),
        VfioContainerIoctl.IommuMapDma => MapDma(ctx, caller, arg),
        VfioContainerIoctl.IommuUnmapDma => UnmapDma(ctx, caller.UserMemory, arg),
        _ => Errno.ENOTTY.Neg(),
    };

    /// <summary>
    /// IOMMU_VFIO_IOAS: <c>__reserved</c> EOPNOTSUPP; GET: no compat IOAS ENODEV, else its id copied
    /// back; SET: ioas_id not an IOAS ENOENT; CLEAR; another op EOPNOTSUPP.
    /// </summary>
    public static int VfioIoas(ref IommufdUcmd u)
    {
        if (BinaryPrimitives.ReadUInt16LittleEndian(u.Cmd[IommuVfioIoas.Reserved..]) != 0) return Errno.EOPNOTSUPP.Neg();
        switch (BinaryPrimitives.ReadUInt16LittleEndian(u.Cmd[IommuVfioIoas.Op..]))
        {
            case IommuVfioIoas.OpGet:
                var ioas = CompatIoas(u.Context);
                if (ioas is null) return Errno.ENODEV.Neg();
                BinaryPrimitives.WriteUInt32LittleEndian(u.Cmd[IommuVfioIoas.IoasId..], ioas.Id);
                return u.Respond(IommuVfioIoas.SizeOf);
            case IommuVfioIoas.OpSet:
                var set = u.Context.Get<Ioas>(BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuVfioIoas.IoasId..]));
                if (set is null) return Errno.ENOENT.Neg();
                lock (u.Context.Gate) u.Context.VfioIoas = set;
                return 0;
            case IommuVfioIoas.OpClear:
                lock (u.Context.Gate) u.Context.VfioIoas = null;
                return 0;
            default:
                return Errno.EOPNOTSUPP.Neg();
        }
    }

    private static Ioas? CompatIoas(IommufdContext ctx)
    {
        lock (ctx.Gate)
        {
            var ioas = ctx.VfioIoas;
            return ioas is { Users: > 0 } ? ctx.Get<Ioas>(ioas.Id) : null;
        }
    }

    /// <summary>VFIO_SET_IOMMU: a type other than TYPE1/TYPE1v2 EINVAL; no compat IOAS ENODEV; TYPE1 disables large pages (so unmaps may split).</summary>
    private static int SetIommu(IommufdContext ctx, ulong type)
    {
        if (type != VfioContainerIoctl.Type1Iommu && type != VfioContainerIoctl.Type1v2Iommu) return Errno.EINVAL.Neg();
        var ioas = CompatIoas(ctx);
        if (ioas is null) return Errno.ENODEV.Neg();
        return type == VfioContainerIoctl.Type1Iommu ? ioas.Iopt.SetLargePages(enable: false) : 0;
    }

    /// <summary>
    /// VFIO_CHECK_EXTENSION: TYPE1, TYPE1v2 and UNMAP_ALL 1; DMA_CC_IOMMU needs the compat IOAS
    /// (ENODEV) and is 1 (every modelled domain enforces cache coherency, TsmLab definition);
    /// everything else (NESTING, UPDATE_VADDR, …) 0.
    /// </summary>
    private static int CheckExtension(IommufdContext ctx, ulong type) => type switch
    {
        VfioContainerIoctl.Type1Iommu or VfioContainerIoctl.Type1v2Iommu or VfioContainerIoctl.UnmapAll => 1,
        VfioContainerIoctl.DmaCcIommu => CompatIoas(ctx) is null ? Errno.ENODEV.Neg() : 1,
        _ => 0,
    };

    /// <summary>
    /// VFIO_IOMMU_MAP_DMA: the 32 bytes unreadable EFAULT; argsz below 32 or a flag other than
    /// READ/WRITE EINVAL; no compat IOAS ENODEV; then IOAS_MAP's rows at the fixed IOVA.
    /// </summary>
    private static int MapDma(IommufdContext ctx, Process caller, ulong arg)
    {
        Span<byte> m = stackalloc byte[VfioIommuType1DmaMap.SizeOf];
        if (caller.UserMemory.CopyFromUser(m, arg) < 0) return Errno.EFAULT.Neg();
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(m[VfioIommuType1DmaMap.Flags..]);
        if (BinaryPrimitives.ReadUInt32LittleEndian(m[VfioIommuType1DmaMap.Argsz..]) < VfioIommuType1DmaMap.SizeOf
            || (flags & ~(VfioIommuType1DmaMap.FlagRead | VfioIommuType1DmaMap.FlagWrite)) != 0) return Errno.EINVAL.Neg();
        var ioas = CompatIoas(ctx);
        if (ioas is null) return Errno.ENODEV.Neg();
        ulong vaddr = BinaryPrimitives.ReadUInt64LittleEndian(m[VfioIommuType1DmaMap.Vaddr..]);
        ulong iova = BinaryPrimitives.ReadUInt64LittleEndian(m[VfioIommuType1DmaMap.Iova..]);
        ulong size = BinaryPrimitives.ReadUInt64LittleEndian(m[VfioIommuType1DmaMap.Size..]);
        bool write = (flags & VfioIommuType1DmaMap.FlagWrite) != 0;
        int rc = IoasIoctls.AllocUserPages(ctx, caller, vaddr, size, write, out var pages);
        if (rc < 0) return rc;
        rc = ioas.Iopt.Map([new PagesSlice(pages!, vaddr % IoPagetable.PageSize, size)], size, ref iova, allocate: false,
            (flags & VfioIommuType1DmaMap.FlagRead) != 0, write);
        pages!.Put();
        return rc;
    }

    /// <summary>
    /// VFIO_IOMMU_UNMAP_DMA: the 24 bytes unreadable EFAULT; argsz below 24 or a flag other than
    /// UNMAP_ALL EINVAL (the dirty-bitmap and VADDR flags included); no compat IOAS ENODEV; ALL with
    /// iova or size set EINVAL; ALL unmaps everything; otherwise, with large pages disabled (TYPE1),
    /// the range's ends are cut first (EINVAL unaligned), then IOAS_UNMAP's rows. The struct is
    /// copied back with size = bytes unmapped even after an unmap error; a fault is EFAULT.
    /// </summary>
    private static int UnmapDma(IommufdContext ctx, IUserMemory memory, ulong arg)
    {
        Span<byte> m = stackalloc byte[VfioIommuType1DmaUnmap.SizeOf];
        if (memory.CopyFromUser(m, arg) < 0) return Errno.EFAULT.Neg();
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(m[VfioIommuType1DmaUnmap.Flags..]);
        if (BinaryPrimitives.ReadUInt32LittleEndian(m[VfioIommuType1DmaUnmap.Argsz..]) < VfioIommuType1DmaUnmap.SizeOf
            || (flags & ~VfioIommuType1DmaUnmap.FlagAll) != 0) return Errno.EINVAL.Neg();
        var ioas = CompatIoas(ctx);
        if (ioas is null) return Errno.ENODEV.Neg();
        ulong iova = BinaryPrimitives.ReadUInt64LittleEndian(m[VfioIommuType1DmaUnmap.Iova..]);
        ulong size = BinaryPrimitives.ReadUInt64LittleEndian(m[VfioIommuType1DmaUnmap.Size..]);
        ulong unmapped = 0;
        int rc;
        if ((flags & VfioIommuType1DmaUnmap.FlagAll) != 0)
        {
            if (iova != 0 || size != 0) return Errno.EINVAL.Neg();
            rc = ioas.Iopt.UnmapAll(out unmapped);
        }
        else
        {
            rc = 0;
            if (ioas.Iopt.LargePagesDisabled)
            {
                Span<ulong> cuts = [unchecked(iova + size - 1), unchecked(iova - 1)];
                rc = ioas.Iopt.Cut(iova != 0 ? cuts : cuts[..1]);
                if (rc < 0) return rc;
            }
            rc = ioas.Iopt.Unmap(iova, size, out unmapped);
        }
        BinaryPrimitives.WriteUInt64LittleEndian(m[VfioIommuType1DmaUnmap.Size..], unmapped);
        return memory.CopyToUser(arg, m) < 0 ? Errno.EFAULT.Neg() : rc;
    }

    /// <summary>
    /// VFIO_IOMMU_GET_INFO: the first 16 bytes unreadable EFAULT; argsz below 16 EINVAL; no compat
    /// IOAS ENODEV; then PGSIZES and CAPS with the DMA_AVAIL (avail U32_MAX) and IOVA_RANGE
    /// capabilities written where argsz leaves room, argsz set to what all of them need and
    /// cap_offset 24 only when all fit; min(argsz, 24) bytes copied back (EFAULT).
    /// </summary>
    private static int GetInfo(IommufdContext ctx, IUserMemory memory, ulong arg)
    {
        Span<byte> info = stackalloc byte[VfioIommuType1Info.SizeOf];
        info.Clear();
        if (memory.CopyFromUser(info[..VfioIommuType1Info.MinSize], arg) < 0) return Errno.EFAULT.Neg();
        uint argsz = BinaryPrimitives.ReadUInt32LittleEndian(info[VfioIommuType1Info.Argsz..]);
        if (argsz < VfioIommuType1Info.MinSize) return Errno.EINVAL.Neg();
        int minsz = (int)Math.Min(argsz, (uint)VfioIommuType1Info.SizeOf);
        if (minsz > VfioIommuType1Info.MinSize && memory.CopyFromUser(info[VfioIommuType1Info.MinSize..minsz], arg + VfioIommuType1Info.MinSize) < 0)
            return Errno.EFAULT.Neg();
        var ioas = CompatIoas(ctx);
        if (ioas is null) return Errno.ENODEV.Neg();

        ulong pgsizes = ioas.Iopt.DomainCount > 0 ? ctx.Kernel.Configuration.Iommu.PageSizeBitmap : ulong.MaxValue;
        const ulong pageMask = ~(IoPagetable.PageSize - 1);
        if ((pgsizes & ~pageMask) != 0) pgsizes = (pgsizes & pageMask) | IoPagetable.PageSize;
        pgsizes = Math.Max(pgsizes, ioas.Iopt.IovaAlignment);
        uint flags = VfioIommuType1Info.FlagPgsizes;
        uint total = VfioIommuType1Info.SizeOf;
        ulong lastCap = 0;
        var ranges = ioas.Iopt.UsableRanges();
        Span<byte> next = stackalloc byte[4];
        for (int i = 0; i < 2; i++)
        {
            uint avail = argsz > total ? argsz - total : 0;
            int size = i == 0 ? FillDmaAvail(memory, arg + total, avail) : FillIovaRanges(memory, arg + total, avail, ranges);
            if (size < 0) return size;
            if (lastCap != 0 && argsz >= total)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(next, total);
                if (memory.CopyToUser(lastCap + 4, next) < 0) return Errno.EFAULT.Neg();
            }
            lastCap = arg + total;
            total += (uint)size;
        }
        BinaryPrimitives.WriteUInt32LittleEndian(info[VfioIommuType1Info.CapOffset..], argsz >= total ? (uint)VfioIommuType1Info.SizeOf : 0u);
        BinaryPrimitives.WriteUInt32LittleEndian(info[VfioIommuType1Info.Argsz..], total);
        BinaryPrimitives.WriteUInt32LittleEndian(info[VfioIommuType1Info.Flags..], flags | VfioIommuType1Info.FlagCaps);
        BinaryPrimitives.WriteUInt64LittleEndian(info[VfioIommuType1Info.IovaPgsizes..], pgsizes);
        return memory.CopyToUser(arg, info[..minsz]) < 0 ? Errno.EFAULT.Neg() : 0;
    }

    private static int FillDmaAvail(IUserMemory memory, ulong at, uint avail)
    {
        if (avail >= VfioIommuType1Info.CapDmaAvailSize)
        {
            Span<byte> cap = stackalloc byte[VfioIommuType1Info.CapDmaAvailSize];
            cap.Clear();
            BinaryPrimitives.WriteUInt16LittleEndian(cap, VfioIommuType1Info.CapDmaAvail);
            BinaryPrimitives.WriteUInt16LittleEndian(cap[2..], 1);
            BinaryPrimitives.WriteUInt32LittleEndian(cap[8..], uint.MaxValue);
            if (memory.CopyToUser(at, cap) < 0) return Errno.EFAULT.Neg();
        }
        return VfioIommuType1Info.CapDmaAvailSize;
    }

    private static int FillIovaRanges(IUserMemory memory, ulong at, uint avail, List<(ulong Start, ulong Last)> ranges)
    {
        Span<byte> r = stackalloc byte[VfioIommuType1Info.IovaRangeSize];
        uint n = 0;
        foreach (var (start, last) in ranges)
        {
            if (avail >= VfioIommuType1Info.CapIovaRangeSize + (n + 1) * VfioIommuType1Info.IovaRangeSize)
            {
                BinaryPrimitives.WriteUInt64LittleEndian(r, start);
                BinaryPrimitives.WriteUInt64LittleEndian(r[8..], last);
                if (memory.CopyToUser(at + VfioIommuType1Info.CapIovaRangeSize + n * VfioIommuType1Info.IovaRangeSize, r) < 0) return Errno.EFAULT.Neg();
            }
            n++;
        }
        int size = (int)(VfioIommuType1Info.CapIovaRangeSize + n * VfioIommuType1Info.IovaRangeSize);
        if (avail >= size)
        {
            Span<byte> head = stackalloc byte[VfioIommuType1Info.CapIovaRangeSize];
            head.Clear();
            BinaryPrimitives.WriteUInt16LittleEndian(head, VfioIommuType1Info.CapIovaRange);
            BinaryPrimitives.WriteUInt16LittleEndian(head[2..], 1);
            BinaryPrimitives.WriteUInt32LittleEndian(head[8..], n);
            if (memory.CopyToUser(at, head) < 0) return Errno.EFAULT.Neg();
        }
        return size;
    }
}
