using System.Buffers.Binary;
using TsmLab.Abi;
using TsmLab.Kernel;
using static TsmLab.Tests.Kernel.Raw;

namespace TsmLab.Tests.Kernel.Iommufd;

/// <summary>IOMMU_HWPT_SET_DIRTY_TRACKING, GET_DIRTY_BITMAP and INVALIDATE (docs/errno.md).</summary>
public class HwptIoctlTests
{
    private static TestRig Rig() => TestHosts.Assigned(TvmArch.Sev, bind: false);

    private static long Dirty(TestRig r, uint flags, uint hwpt, uint reserved = 0) =>
        Ioctl(r.Vmm, r.IommuFd, IommufdIoctl.HwptSetDirtyTracking, Struct(16, U32(IommuHwptSetDirtyTracking.Flags, flags),
            U32(IommuHwptSetDirtyTracking.HwptId, hwpt), U32(IommuHwptSetDirtyTracking.Reserved, reserved)));

    private static long Bitmap(TestRig r, uint hwpt, ulong iova, ulong length, ulong pageSize, uint flags = 0, uint reserved = 0) =>
        Ioctl(r.Vmm, r.IommuFd, IommufdIoctl.HwptGetDirtyBitmap, Struct(48, U32(IommuHwptGetDirtyBitmap.HwptId, hwpt),
            U32(IommuHwptGetDirtyBitmap.Flags, flags), U32(IommuHwptGetDirtyBitmap.Reserved, reserved), U64(IommuHwptGetDirtyBitmap.Iova, iova),
            U64(IommuHwptGetDirtyBitmap.Length, length), U64(IommuHwptGetDirtyBitmap.PageSize, pageSize), U64(IommuHwptGetDirtyBitmap.Data, Buf + 0x1000)));

    private static long Invalidate(TestRig r, uint id, uint entryNum, ulong data, uint entryLen, uint reserved, out uint done)
    {
        long rc = Ioctl(r.Vmm, r.IommuFd, IommufdIoctl.HwptInvalidate, Struct(32, U32(IommuHwptInvalidate.HwptId, id),
            U64(IommuHwptInvalidate.DataUptr, data), U32(IommuHwptInvalidate.EntryLen, entryLen), U32(IommuHwptInvalidate.EntryNum, entryNum),
            U32(IommuHwptInvalidate.Reserved, reserved)));
        done = BinaryPrimitives.ReadUInt32LittleEndian(Read(r.Vmm, 32).AsSpan(IommuHwptInvalidate.EntryNum));
        return rc;
    }

    [Fact]
    public void SetDirtyTracking_UnknownFlag_ReturnsEopnotsupp()
    {
        var r = Rig();
        Assert.Equal(Neg(Errno.EOPNOTSUPP), Dirty(r, 2, r.Assignment.HwptId));
    }

    [Fact]
    public void SetDirtyTracking_NotAPagingHwpt_ReturnsEnoent()
    {
        var r = Rig();
        Assert.Equal(Neg(Errno.ENOENT), Dirty(r, 1, r.Assignment.IoasId));
    }

    [Fact]
    public void SetDirtyTracking_IommuWithoutDirtyTracking_ReturnsEopnotsupp()
    {
        var r = Rig();
        Assert.Equal(Neg(Errno.EOPNOTSUPP), Dirty(r, IommuHwptSetDirtyTracking.FlagEnable, r.Assignment.HwptId));
        Assert.Equal(Neg(Errno.EOPNOTSUPP), Dirty(r, 0, r.Assignment.HwptId));
    }

    [Fact]
    public void GetDirtyBitmap_UnknownFlagOrReserved_ReturnsEopnotsupp()
    {
        var r = Rig();
        Assert.Equal(Neg(Errno.EOPNOTSUPP), Bitmap(r, r.Assignment.HwptId, 0, 0x1000, 0x1000, flags: 2));
        Assert.Equal(Neg(Errno.EOPNOTSUPP), Bitmap(r, r.Assignment.HwptId, 0, 0x1000, 0x1000, reserved: 1));
    }

    [Fact]
    public void GetDirtyBitmap_NotAPagingHwpt_ReturnsEnoent()
    {
        var r = Rig();
        Assert.Equal(Neg(Errno.ENOENT), Bitmap(r, r.Assignment.ViommuId, 0, 0x1000, 0x1000));
    }

    [Fact]
    public void GetDirtyBitmap_RangeOverflowing_ReturnsEoverflow()
    {
        var r = Rig();
        Assert.Equal(Neg(Errno.EOVERFLOW), Bitmap(r, r.Assignment.HwptId, 0x1000, ulong.MaxValue, 0x1000));
    }

    [Fact]
    public void GetDirtyBitmap_RangeNotAlignedToTheIommuOrPageSize_OrPageSizeZero_ReturnsEinval()
    {
        var r = Rig();
        Assert.Equal(Neg(Errno.EINVAL), Bitmap(r, r.Assignment.HwptId, 0x800, 0x1000, 0x1000));
        Assert.Equal(Neg(Errno.EINVAL), Bitmap(r, r.Assignment.HwptId, 0x1000, 0x1800, 0x1000));
        Assert.Equal(Neg(Errno.EINVAL), Bitmap(r, r.Assignment.HwptId, 0x1000, 0x1000, 0));
        Assert.Equal(Neg(Errno.EINVAL), Bitmap(r, r.Assignment.HwptId, 0x1000, 0x1000, 0x2000));
    }

    [Fact]
    public void GetDirtyBitmap_ValidRange_IommuWithoutDirtyTracking_ReturnsEopnotsupp()
    {
        var r = Rig();
        Assert.Equal(Neg(Errno.EOPNOTSUPP), Bitmap(r, r.Assignment.HwptId, 0x10000, 0x10000, 0x1000, flags: IommuHwptGetDirtyBitmap.FlagNoClear));
    }

    [Fact]
    public void Invalidate_ReservedNonZero_ReturnsEopnotsupp_AndWritesEntryNumZero()
    {
        var r = Rig();
        Assert.Equal(Neg(Errno.EOPNOTSUPP), Invalidate(r, r.Assignment.ViommuId, 3, Buf, 16, 1, out uint done));
        Assert.Equal(0u, done);
    }

    [Fact]
    public void Invalidate_EntriesWithoutDataOrEntryLen_ReturnsEinval()
    {
        var r = Rig();
        Assert.Equal(Neg(Errno.EINVAL), Invalidate(r, r.Assignment.ViommuId, 1, 0, 16, 0, out _));
        Assert.Equal(Neg(Errno.EINVAL), Invalidate(r, r.Assignment.ViommuId, 1, Buf, 0, 0, out _));
    }

    [Fact]
    public void Invalidate_UnknownId_ReturnsEnoent()
    {
        var r = Rig();
        Assert.Equal(Neg(Errno.ENOENT), Invalidate(r, 99, 0, 0, 0, 0, out _));
    }

    [Fact]
    public void Invalidate_PagingHwpt_ReturnsEinval_ViommuWithoutInvalidation_ReturnsEopnotsupp()
    {
        var r = Rig();
        Assert.Equal(Neg(Errno.EINVAL), Invalidate(r, r.Assignment.HwptId, 0, 0, 0, 0, out _));
        Assert.Equal(Neg(Errno.EOPNOTSUPP), Invalidate(r, r.Assignment.ViommuId, 1, Buf, 16, 0, out uint done));
        Assert.Equal(0u, done);
    }

    [Fact]
    public void Invalidate_EntryNumCopyBackFault_ReturnsEfault()
    {
        var r = Rig();
        MapBuffer(r.Vmm);
        r.Vmm.Memory.CopyToUser(Buf, Struct(32, U32(IommuHwptInvalidate.HwptId, r.Assignment.HwptId)));
        r.Vmm.Memory.Protect(Buf, 4096, Prot.Read);
        Assert.Equal(Neg(Errno.EFAULT), r.Vmm.Ioctl(r.IommuFd, IommufdIoctl.HwptInvalidate, Buf));
    }
}
