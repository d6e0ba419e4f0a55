using System.Buffers.Binary;
using TsmLab.Abi;

namespace TsmLab.Kernel.Iommufd;

/// <summary>
/// The HWPT ioctls after allocation (drivers/iommu/iommufd/hw_pagetable.c [LI8], dirty reads in
/// io_pagetable.c [LI4]): dirty tracking and the IOTLB invalidation of nested HWPTs and vIOMMUs.
/// The modelled host IOMMUs report no dirty tracking and their vIOMMUs no cache invalidation, so
/// each of these ends in EOPNOTSUPP once the generic checks pass, as Linux answers on such an
/// IOMMU; only a mock domain allocated with DIRTY_TRACKING has dirty ops (<see cref="Selftest.MockDirtyOps"/>).
/// </summary>
internal static class HwptIoctls
{
    /// <summary>IOMMU_HWPT_SET_DIRTY_TRACKING: a flag other than ENABLE EOPNOTSUPP; hwpt_id not a paging HWPT ENOENT; no dirty ops EOPNOTSUPP; else tracking on (dirty bits cleared first) or off.</summary>
    public static int SetDirtyTracking(ref IommufdUcmd u)
    {
        if ((BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuHwptSetDirtyTracking.Flags..]) & ~IommuHwptSetDirtyTracking.FlagEnable) != 0)
            return Errno.EOPNOTSUPP.Neg();
        var hwpt = u.Context.Get<HwPagetable>(BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuHwptSetDirtyTracking.HwptId..]));
        if (hwpt is null) return Errno.ENOENT.Neg();
        if (!hwpt.DirtyOps) return Errno.EOPNOTSUPP.Neg(); // iopt_set_dirty_tracking: domain->dirty_ops is NULL
        return Selftest.MockDirtyOps.SetTracking(hwpt, (BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuHwptSetDirtyTracking.Flags..]) & IommuHwptSetDirtyTracking.FlagEnable) != 0);
    }

    /// <summary>
    /// IOMMU_HWPT_GET_DIRTY_BITMAP: a flag other than NO_CLEAR or <c>__reserved</c> EOPNOTSUPP;
    /// hwpt_id not a paging HWPT ENOENT; <c>iommufd_check_iova_range</c>: iova + length - 1
    /// overflowing EOVERFLOW, iova or end not aligned to the IOAS's alignment EINVAL, page_size 0
    /// EINVAL, iova or end not aligned to page_size EINVAL; then no dirty ops EOPNOTSUPP; else the
    /// dirty IO pages are reported into the bitmap at <c>data</c> (<see cref="Selftest.MockDirtyOps.ReadAndClear"/>).
    /// </summary>
    public static int GetDirtyBitmap(ref IommufdUcmd u)
    {
        if ((BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuHwptGetDirtyBitmap.Flags..]) & ~IommuHwptGetDirtyBitmap.FlagNoClear) != 0
            || BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuHwptGetDirtyBitmap.Reserved..]) != 0)
            return Errno.EOPNOTSUPP.Neg();
        var hwpt = u.Context.Get<HwPagetable>(BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuHwptGetDirtyBitmap.HwptId..]));
        if (hwpt is null) return Errno.ENOENT.Neg();
        ulong iova = BinaryPrimitives.ReadUInt64LittleEndian(u.Cmd[IommuHwptGetDirtyBitmap.Iova..]);
        ulong length = BinaryPrimitives.ReadUInt64LittleEndian(u.Cmd[IommuHwptGetDirtyBitmap.Length..]);
        ulong pageSize = BinaryPrimitives.ReadUInt64LittleEndian(u.Cmd[IommuHwptGetDirtyBitmap.PageSize..]);
        ulong last = unchecked(iova + (length - 1));
        // check_add_overflow(iova, length - 1): length 0 makes length - 1 = U64_MAX, which overflows unless iova is 0.
        if (last < iova) return Errno.EOVERFLOW.Neg();
        ulong align = hwpt.Ioas.Iopt.IovaAlignment;
        if ((iova & (align - 1)) != 0 || (unchecked(last + 1) & (align - 1)) != 0) return Errno.EINVAL.Neg();
        if (pageSize == 0) return Errno.EINVAL.Neg();
        if ((iova & (pageSize - 1)) != 0 || (unchecked(last + 1) & (pageSize - 1)) != 0) return Errno.EINVAL.Neg();
        if (!hwpt.DirtyOps) return Errno.EOPNOTSUPP.Neg(); // iommu_read_and_clear_dirty: no dirty ops
        bool noClear = (BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuHwptGetDirtyBitmap.Flags..]) & IommuHwptGetDirtyBitmap.FlagNoClear) != 0;
        return Selftest.MockDirtyOps.ReadAndClear(hwpt, u.Caller.UserMemory, iova, length, pageSize,
            BinaryPrimitives.ReadUInt64LittleEndian(u.Cmd[IommuHwptGetDirtyBitmap.Data..]), noClear);
    }

    /// <summary>
    /// IOMMU_HWPT_INVALIDATE: <c>__reserved</c> EOPNOTSUPP; entries without data_uptr or
    /// entry_len EINVAL; hwpt_id naming nothing ENOENT; a vIOMMU without cache invalidation
    /// EOPNOTSUPP, except the mock vIOMMU's (<see cref="Selftest.MockViommuInvalidate"/>); a
    /// nested HWPT (only the mock's exist) its IOTLB invalidation (<see cref="Selftest.MockNestedInvalidate"/>);
    /// anything else (a paging HWPT) EINVAL. <c>entry_num</c> is always written back with the
    /// entries handled, and a fault doing so is EFAULT.
    /// </summary>
    public static int Invalidate(ref IommufdUcmd u)
    {
        int rc;
        uint done = 0;
        uint entries = BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuHwptInvalidate.EntryNum..]);
        if (BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuHwptInvalidate.Reserved..]) != 0) rc = Errno.EOPNOTSUPP.Neg();
        else if (entries != 0 && (BinaryPrimitives.ReadUInt64LittleEndian(u.Cmd[IommuHwptInvalidate.DataUptr..]) == 0
                 || BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuHwptInvalidate.EntryLen..]) == 0)) rc = Errno.EINVAL.Neg();
        else rc = u.Context.GetAny(BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuHwptInvalidate.HwptId..])) switch
        {
            null => Errno.ENOENT.Neg(),
            Viommu { ViommuType: IommuTestCmd.ViommuTypeSelftest } v => Selftest.MockViommuInvalidate.Run(u.Context, u.Caller, v,
                BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuHwptInvalidate.DataType..]), BinaryPrimitives.ReadUInt64LittleEndian(u.Cmd[IommuHwptInvalidate.DataUptr..]),
                BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuHwptInvalidate.EntryLen..]), entries, out done),
            Viommu => Errno.EOPNOTSUPP.Neg(), // TsmLab: the platforms' modelled vIOMMUs have no cache_invalidate op
            HwptNested n => Selftest.MockNestedInvalidate.Run(u.Context, u.Caller, n,
                BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuHwptInvalidate.DataType..]), BinaryPrimitives.ReadUInt64LittleEndian(u.Cmd[IommuHwptInvalidate.DataUptr..]),
                BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuHwptInvalidate.EntryLen..]), entries, out done),
            _ => Errno.EINVAL.Neg(),
        };
        BinaryPrimitives.WriteUInt32LittleEndian(u.Cmd[IommuHwptInvalidate.EntryNum..], done);
        return u.Respond(IommuHwptInvalidate.SizeOf) < 0 ? Errno.EFAULT.Neg() : rc;
    }
}
