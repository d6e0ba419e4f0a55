using System.Buffers.Binary;
using TsmLab.Abi;
using TsmLab.Kernel;
using static TsmLab.Tests.Kernel.Raw;

namespace TsmLab.Tests.Kernel.Iommufd;

/// <summary>The VFIO type1 container ioctls on /dev/iommu and IOMMU_VFIO_IOAS (docs/errno.md).</summary>
public class VfioCompatTests
{
    private const ulong Mem = IoasRig.Mem;

    private static long VfioIoas(IoasRig r, ushort op, uint ioas, out uint got, ushort reserved = 0)
    {
        var s = Struct(IommuVfioIoas.SizeOf, U32(IommuVfioIoas.IoasId, ioas));
        BinaryPrimitives.WriteUInt16LittleEndian(s.AsSpan(IommuVfioIoas.Op), op);
        BinaryPrimitives.WriteUInt16LittleEndian(s.AsSpan(IommuVfioIoas.Reserved), reserved);
        long rc = Ioctl(r.P, r.Fd, IommufdIoctl.VfioIoas, s);
        got = BinaryPrimitives.ReadUInt32LittleEndian(Read(r.P, IommuVfioIoas.SizeOf).AsSpan(IommuVfioIoas.IoasId));
        return rc;
    }

    /// <summary>A bare IOAS made the compat IOAS.</summary>
    private static IoasRig Compat(bool withDomain = false)
    {
        var r = withDomain ? IoasRig.WithDomain() : IoasRig.Bare();
        Assert.Equal(0, VfioIoas(r, IommuVfioIoas.OpSet, r.Ioas, out _));
        return r;
    }

    private static long MapDma(IoasRig r, uint flags, ulong vaddr, ulong iova, ulong size, uint argsz = 32) =>
        Ioctl(r.P, r.Fd, VfioContainerIoctl.IommuMapDma, Struct(32, U32(0, argsz), U32(4, flags), U64(8, vaddr), U64(16, iova), U64(24, size)));

    private static long UnmapDma(IoasRig r, uint flags, ulong iova, ulong size, out ulong unmapped, uint argsz = 24)
    {
        long rc = Ioctl(r.P, r.Fd, VfioContainerIoctl.IommuUnmapDma, Struct(24, U32(0, argsz), U32(4, flags), U64(8, iova), U64(16, size)));
        unmapped = BinaryPrimitives.ReadUInt64LittleEndian(Read(r.P, 24).AsSpan(16));
        return rc;
    }

    private const uint Rw = VfioIommuType1DmaMap.FlagRead | VfioIommuType1DmaMap.FlagWrite;

    [Fact]
    public void GetApiVersion_IsZero_AndOtherContainerIoctlsAreEnotty()
    {
        var r = IoasRig.Bare();
        Assert.Equal(0, r.P.Ioctl(r.Fd, VfioContainerIoctl.GetApiVersion, 0));
        Assert.Equal(Neg(Errno.ENOTTY), r.P.Ioctl(r.Fd, VfioContainerIoctl.IommuDirtyPages, 0));
    }

    [Theory]
    [InlineData(VfioContainerIoctl.Type1Iommu, 1)]
    [InlineData(VfioContainerIoctl.Type1v2Iommu, 1)]
    [InlineData(VfioContainerIoctl.UnmapAll, 1)]
    [InlineData(VfioContainerIoctl.Type1NestingIommu, 0)]
    [InlineData(VfioContainerIoctl.UpdateVaddr, 0)]
    [InlineData(2u, 0)]
    public void CheckExtension_AnswersPerType(uint type, int expected)
    {
        var r = IoasRig.Bare();
        Assert.Equal(expected, r.P.Ioctl(r.Fd, VfioContainerIoctl.CheckExtension, type));
    }

    [Fact]
    public void CheckExtension_DmaCcIommu_NeedsTheCompatIoas()
    {
        var r = IoasRig.Bare();
        Assert.Equal(Neg(Errno.ENODEV), r.P.Ioctl(r.Fd, VfioContainerIoctl.CheckExtension, VfioContainerIoctl.DmaCcIommu));
        Assert.Equal(0, VfioIoas(r, IommuVfioIoas.OpSet, r.Ioas, out _));
        Assert.Equal(1, r.P.Ioctl(r.Fd, VfioContainerIoctl.CheckExtension, VfioContainerIoctl.DmaCcIommu));
    }

    [Fact]
    public void VfioIoas_ReservedOrUnknownOp_ReturnsEopnotsupp()
    {
        var r = IoasRig.Bare();
        Assert.Equal(Neg(Errno.EOPNOTSUPP), VfioIoas(r, IommuVfioIoas.OpGet, 0, out _, reserved: 1));
        Assert.Equal(Neg(Errno.EOPNOTSUPP), VfioIoas(r, 3, 0, out _));
    }

    [Fact]
    public void VfioIoas_GetWithoutCompatIoas_ReturnsEnodev_SetUnknown_ReturnsEnoent()
    {
        var r = IoasRig.Bare();
        Assert.Equal(Neg(Errno.ENODEV), VfioIoas(r, IommuVfioIoas.OpGet, 0, out _));
        Assert.Equal(Neg(Errno.ENOENT), VfioIoas(r, IommuVfioIoas.OpSet, 99, out _));
    }

    [Fact]
    public void VfioIoas_SetGetClear_AndDestroyingTheIoasClearsIt()
    {
        var r = IoasRig.Bare();
        Assert.Equal(0, VfioIoas(r, IommuVfioIoas.OpSet, r.Ioas, out _));
        Assert.Equal(0, VfioIoas(r, IommuVfioIoas.OpGet, 0, out uint id));
        Assert.Equal(r.Ioas, id);
        Assert.Equal(0, VfioIoas(r, IommuVfioIoas.OpClear, 0, out _));
        Assert.Equal(Neg(Errno.ENODEV), VfioIoas(r, IommuVfioIoas.OpGet, 0, out _));
        Assert.Equal(0, VfioIoas(r, IommuVfioIoas.OpSet, r.Ioas, out _));
        Assert.Equal(0, Ioctl(r.P, r.Fd, IommufdIoctl.Destroy, Struct(8, U32(4, r.Ioas))));
        Assert.Equal(Neg(Errno.ENODEV), VfioIoas(r, IommuVfioIoas.OpGet, 0, out _));
    }

    [Fact]
    public void SetIommu_OtherType_ReturnsEinval_NoCompatIoas_ReturnsEnodev()
    {
        var r = IoasRig.Bare();
        Assert.Equal(Neg(Errno.EINVAL), r.P.Ioctl(r.Fd, VfioContainerIoctl.SetIommu, 2));
        Assert.Equal(Neg(Errno.ENODEV), r.P.Ioctl(r.Fd, VfioContainerIoctl.SetIommu, VfioContainerIoctl.Type1v2Iommu));
    }

    [Fact]
    public void SetIommu_Type1_DisablesLargePages_Type1v2_DoesNot()
    {
        var r = Compat();
        Assert.Equal(0, r.P.Ioctl(r.Fd, VfioContainerIoctl.SetIommu, VfioContainerIoctl.Type1v2Iommu));
        Assert.False(r.Object.Iopt.LargePagesDisabled);
        Assert.Equal(0, r.P.Ioctl(r.Fd, VfioContainerIoctl.SetIommu, VfioContainerIoctl.Type1Iommu));
        Assert.True(r.Object.Iopt.LargePagesDisabled);
    }

    [Fact]
    public void MapDma_StructFault_ReturnsEfault_ShortArgszOrUnknownFlag_ReturnsEinval_NoCompatIoas_ReturnsEnodev()
    {
        var r = IoasRig.Bare();
        Assert.Equal(Neg(Errno.EFAULT), r.P.Ioctl(r.Fd, VfioContainerIoctl.IommuMapDma, 0xdead_0000));
        Assert.Equal(Neg(Errno.EINVAL), MapDma(r, Rw, Mem, 0x10000, 0x1000, argsz: 24));
        Assert.Equal(Neg(Errno.EINVAL), MapDma(r, Rw | 4, Mem, 0x10000, 0x1000));
        Assert.Equal(Neg(Errno.ENODEV), MapDma(r, Rw, Mem, 0x10000, 0x1000));
    }

    [Fact]
    public void MapDma_MapsAtTheGivenIova_WithIoasMapsRows()
    {
        var r = Compat(withDomain: true);
        Assert.Equal(0, MapDma(r, Rw, Mem, 0x10000, 0x4000));
        Assert.Equal(0x10000ul, Assert.Single(r.Object.Iopt.Areas).Iova);
        Assert.Equal(Neg(Errno.EEXIST), MapDma(r, Rw, Mem, 0x11000, 0x1000));
        Assert.Equal(Neg(Errno.EFAULT), MapDma(r, Rw, 0x5000_0000, 0x20000, 0x1000));
    }

    [Fact]
    public void UnmapDma_ShortArgszOrFlags_ReturnsEinval_AllWithRange_ReturnsEinval()
    {
        var r = Compat();
        Assert.Equal(Neg(Errno.EINVAL), UnmapDma(r, 0, 0x10000, 0x1000, out _, argsz: 16));
        Assert.Equal(Neg(Errno.EINVAL), UnmapDma(r, 1, 0x10000, 0x1000, out _)); // GET_DIRTY_BITMAP is obsolete here
        Assert.Equal(Neg(Errno.EINVAL), UnmapDma(r, VfioIommuType1DmaUnmap.FlagAll, 0x10000, 0, out _));
    }

    [Fact]
    public void UnmapDma_All_AndPartialInType1v2_ReturnsEnoentWithSizeZeroWrittenBack()
    {
        var r = Compat();
        Assert.Equal(0, MapDma(r, Rw, Mem, 0x10000, 0x3000));
        Assert.Equal(Neg(Errno.ENOENT), UnmapDma(r, 0, 0x11000, 0x1000, out ulong n));
        Assert.Equal(0ul, n);
        Assert.Equal(0, UnmapDma(r, VfioIommuType1DmaUnmap.FlagAll, 0, 0, out n));
        Assert.Equal(0x3000ul, n);
        // A range with nothing mapped is success with size 0 (iopt_unmap_iova_range; only IOAS_UNMAP makes it ENOENT).
        Assert.Equal(0, UnmapDma(r, 0, 0x10000, 0x3000, out n));
        Assert.Equal(0ul, n);
    }

    [Fact]
    public void UnmapDma_Type1_SplitsTheMapping_AndKeepsThePinsOnce()
    {
        var r = Compat(withDomain: true);
        Assert.Equal(0, r.P.Ioctl(r.Fd, VfioContainerIoctl.SetIommu, VfioContainerIoctl.Type1Iommu));
        Assert.Equal(0, MapDma(r, Rw, Mem, 0x10000, 0x3000));
        Assert.Equal(3, r.Kernel.UserLockedMemory.LockedPages);
        Assert.Equal(0, UnmapDma(r, 0, 0x11000, 0x1000, out ulong n));
        Assert.Equal(0x1000ul, n);
        Assert.Equal([0x10000ul, 0x12000ul], r.Object.Iopt.Areas.Select(a => a.Iova));
        Assert.Equal(2, r.Kernel.UserLockedMemory.LockedPages);
    }

    [Fact]
    public void GetInfo_ShortArgsz_ReturnsEinval_NoCompatIoas_ReturnsEnodev()
    {
        var r = IoasRig.Bare();
        Assert.Equal(Neg(Errno.EINVAL), Ioctl(r.P, r.Fd, VfioContainerIoctl.IommuGetInfo, Struct(24, U32(0, 8))));
        Assert.Equal(Neg(Errno.ENODEV), Ioctl(r.P, r.Fd, VfioContainerIoctl.IommuGetInfo, Struct(24, U32(0, 24))));
    }

    [Fact]
    public void GetInfo_ArgszOnlyForTheStruct_GetsTheSizeNeeded_NoCapOffset()
    {
        var r = Compat();
        Assert.Equal(0, Ioctl(r.P, r.Fd, VfioContainerIoctl.IommuGetInfo, Struct(24, U32(0, 24))));
        var s = Read(r.P, 24);
        Assert.Equal(24u + 12 + 16 + 16, BinaryPrimitives.ReadUInt32LittleEndian(s));
        Assert.Equal(VfioIommuType1Info.FlagPgsizes | VfioIommuType1Info.FlagCaps, BinaryPrimitives.ReadUInt32LittleEndian(s.AsSpan(4)));
        Assert.Equal(0xFFFF_FFFF_FFFF_F000ul, BinaryPrimitives.ReadUInt64LittleEndian(s.AsSpan(8)));
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(s.AsSpan(16)));
    }

    [Fact]
    public void GetInfo_WithRoom_ChainsDmaAvailThenIovaRanges()
    {
        var r = Compat(withDomain: true);
        Assert.Equal(0, Ioctl(r.P, r.Fd, VfioContainerIoctl.IommuGetInfo, Struct(24, U32(0, 200))));
        var s = Read(r.P, 200);
        Assert.Equal(24u + 12 + 16 + 3 * 16, BinaryPrimitives.ReadUInt32LittleEndian(s));
        Assert.Equal(0x4020_1000ul, BinaryPrimitives.ReadUInt64LittleEndian(s.AsSpan(8)));
        Assert.Equal(24u, BinaryPrimitives.ReadUInt32LittleEndian(s.AsSpan(16)));
        Assert.Equal((ushort)3, BinaryPrimitives.ReadUInt16LittleEndian(s.AsSpan(24)));        // DMA_AVAIL
        Assert.Equal(36u, BinaryPrimitives.ReadUInt32LittleEndian(s.AsSpan(28)));             // next
        Assert.Equal(uint.MaxValue, BinaryPrimitives.ReadUInt32LittleEndian(s.AsSpan(32)));   // avail
        Assert.Equal((ushort)1, BinaryPrimitives.ReadUInt16LittleEndian(s.AsSpan(36)));        // IOVA_RANGE
        Assert.Equal(3u, BinaryPrimitives.ReadUInt32LittleEndian(s.AsSpan(44)));              // nr_iovas
        Assert.Equal(0xFEDF_FFFFul, BinaryPrimitives.ReadUInt64LittleEndian(s.AsSpan(60)));   // first range's end
    }
}
