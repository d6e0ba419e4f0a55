using System.Buffers.Binary;
using TsmLab.Abi;
using TsmLab.Kernel;
using static TsmLab.Tests.Kernel.Raw;

namespace TsmLab.Tests.Kernel.Iommufd;

/// <summary>IOMMU_IOAS_UNMAP, COPY, IOVA_RANGES and ALLOW_IOVAS (docs/errno.md, "IOAS mapping").</summary>
public class IoasRangeTests
{
    private const ulong Mem = IoasRig.Mem;
    private const uint Rw = IoasRig.Rw, FixedRw = IoasRig.FixedRw;
    private const ulong Array = Buf + 0x1000;

    /// <summary>IOAS_ALLOW_IOVAS with the given ranges (array at Buf + 0x1000).</summary>
    internal static long Allow(IoasRig r, params (ulong Start, ulong Last)[] ranges)
    {
        MapBuffer(r.P);
        var a = new byte[ranges.Length * 16];
        for (int i = 0; i < ranges.Length; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(a.AsSpan(i * 16), ranges[i].Start);
            BinaryPrimitives.WriteUInt64LittleEndian(a.AsSpan(i * 16 + 8), ranges[i].Last);
        }
        Assert.Equal(0, r.P.Memory.CopyToUser(Array, a));
        return Ioctl(r.P, r.Fd, IommufdIoctl.IoasAllowIovas, Struct(IommuIoasAllowIovas.SizeOf,
            U32(IommuIoasAllowIovas.IoasId, r.Ioas), U32(IommuIoasAllowIovas.NumIovas, (ulong)ranges.Length), U64(IommuIoasAllowIovas.AllowedIovas, Array)));
    }

    private static long Ranges(IoasRig r, uint num, out uint total, out ulong alignment, out (ulong Start, ulong Last)[] got, ulong array = Array, uint? ioas = null)
    {
        MapBuffer(r.P);
        long rc = Ioctl(r.P, r.Fd, IommufdIoctl.IoasIovaRanges, Struct(IommuIoasIovaRanges.SizeOf,
            U32(IommuIoasIovaRanges.IoasId, ioas ?? r.Ioas), U32(IommuIoasIovaRanges.NumIovas, num), U64(IommuIoasIovaRanges.AllowedIovas, array)));
        var s = Read(r.P, IommuIoasIovaRanges.SizeOf);
        total = BinaryPrimitives.ReadUInt32LittleEndian(s.AsSpan(IommuIoasIovaRanges.NumIovas));
        alignment = BinaryPrimitives.ReadUInt64LittleEndian(s.AsSpan(IommuIoasIovaRanges.OutIovaAlignment));
        int n = (int)Math.Min(num, total);
        var bytes = n > 0 && array == Array ? Read(r.P, n * 16, Array) : [];
        got = Enumerable.Range(0, bytes.Length / 16).Select(i => (BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(i * 16)), BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(i * 16 + 8)))).ToArray();
        return rc;
    }

    private static long Copy(IoasRig r, uint flags, uint dst, uint src, ulong length, ulong dstIova, ulong srcIova, out ulong placed)
    {
        long rc = Ioctl(r.P, r.Fd, IommufdIoctl.IoasCopy, Struct(IommuIoasCopy.SizeOf, U32(IommuIoasCopy.Flags, flags),
            U32(IommuIoasCopy.DstIoasId, dst), U32(IommuIoasCopy.SrcIoasId, src), U64(IommuIoasCopy.Length, length),
            U64(IommuIoasCopy.DstIova, dstIova), U64(IommuIoasCopy.SrcIova, srcIova)));
        placed = rc == 0 ? BinaryPrimitives.ReadUInt64LittleEndian(Read(r.P, IommuIoasCopy.SizeOf).AsSpan(IommuIoasCopy.DstIova)) : 0;
        return rc;
    }

    // ---- UNMAP

    [Fact]
    public void Unmap_UnknownIoas_ReturnsEnoent_BeforeTheOverflowCheck()
    {
        var r = IoasRig.Bare();
        Assert.Equal(Neg(Errno.ENOENT), r.Unmap(ulong.MaxValue, 1, out _, ioas: 99));
    }

    [Fact]
    public void Unmap_ZeroAndU64Max_UnmapsEverything_EvenWhenEmpty()
    {
        var r = IoasRig.Bare();
        Assert.Equal(0, r.Unmap(0, ulong.MaxValue, out ulong none));
        Assert.Equal(0ul, none);
        Assert.Equal(0, r.Map(FixedRw, Mem, 0x2000, 0x10000));
        Assert.Equal(0, r.Map(FixedRw, Mem, 0x1000, 0x8000_0000));
        Assert.Equal(0, r.Unmap(0, ulong.MaxValue, out ulong all));
        Assert.Equal(0x3000ul, all);
        Assert.Empty(r.Object.Iopt.Areas);
    }

    [Fact]
    public void Unmap_IovaOrLengthUlongMax_ReturnsEoverflow()
    {
        var r = IoasRig.Bare();
        Assert.Equal(Neg(Errno.EOVERFLOW), r.Unmap(ulong.MaxValue, 1, out _));
        Assert.Equal(Neg(Errno.EOVERFLOW), r.Unmap(1, ulong.MaxValue, out _));
        Assert.Equal(Neg(Errno.EOVERFLOW), r.Unmap(ulong.MaxValue - 1, 3, out _));
    }

    [Fact]
    public void Unmap_ZeroLength_ReturnsEinval()
    {
        var r = IoasRig.Bare();
        Assert.Equal(Neg(Errno.EINVAL), r.Unmap(0x10000, 0, out _));
    }

    [Fact]
    public void Unmap_NothingMapped_ReturnsEnoent()
    {
        var r = IoasRig.Bare();
        Assert.Equal(Neg(Errno.ENOENT), r.Unmap(0x10000, 0x1000, out _));
    }

    [Fact]
    public void Unmap_PartOfAnArea_ReturnsEnoent_SplittingIsRefused()
    {
        var r = IoasRig.Bare();
        Assert.Equal(0, r.Map(FixedRw, Mem, 0x4000, 0x10000));
        Assert.Equal(Neg(Errno.ENOENT), r.Unmap(0x11000, 0x1000, out _));
        Assert.Equal(Neg(Errno.ENOENT), r.Unmap(0x10000, 0x1000, out _));
        Assert.Single(r.Object.Iopt.Areas);
    }

    [Fact]
    public void Unmap_SupersetOfAreas_UnmapsThem_AndReturnsTheBytes()
    {
        var r = IoasRig.Bare();
        Assert.Equal(0, r.Map(FixedRw, Mem, 0x1000, 0x10000));
        Assert.Equal(0, r.Map(FixedRw, Mem, 0x2000, 0x20000));
        Assert.Equal(0, r.Unmap(0x8000, 0x100000, out ulong n));
        Assert.Equal(0x3000ul, n);
    }

    [Fact]
    public void Unmap_RangeEndingInsideAnArea_UnmapsTheAreasBefore_ThenReturnsEnoent()
    {
        var r = IoasRig.Bare();
        Assert.Equal(0, r.Map(FixedRw, Mem, 0x1000, 0x10000));
        Assert.Equal(0, r.Map(FixedRw, Mem, 0x2000, 0x20000));
        Assert.Equal(Neg(Errno.ENOENT), r.Unmap(0x10000, 0x11000, out _));
        Assert.Equal(0x20000ul, Assert.Single(r.Object.Iopt.Areas).Iova);
    }

    // ---- COPY

    [Fact]
    public void Copy_UnknownFlags_ReturnsEopnotsupp()
    {
        var r = IoasRig.Bare();
        Assert.Equal(Neg(Errno.EOPNOTSUPP), Copy(r, Rw | 8, r.Ioas, r.Ioas, 0x1000, 0, 0x10000, out _));
    }

    [Fact]
    public void Copy_LengthOrIovaUlongMax_ReturnsEoverflow()
    {
        var r = IoasRig.Bare();
        Assert.Equal(Neg(Errno.EOVERFLOW), Copy(r, Rw, r.Ioas, r.Ioas, ulong.MaxValue, 0, 0x10000, out _));
        Assert.Equal(Neg(Errno.EOVERFLOW), Copy(r, Rw, r.Ioas, r.Ioas, 0x1000, ulong.MaxValue, 0x10000, out _));
        Assert.Equal(Neg(Errno.EOVERFLOW), Copy(r, Rw, r.Ioas, r.Ioas, 0x1000, 0, ulong.MaxValue, out _));
    }

    [Fact]
    public void Copy_WithoutReadOrWrite_ReturnsEinval()
    {
        var r = IoasRig.Bare();
        Assert.Equal(Neg(Errno.EINVAL), Copy(r, IommuIoasMapFlags.FixedIova, r.Ioas, r.Ioas, 0x1000, 0, 0x10000, out _));
    }

    [Fact]
    public void Copy_UnknownSourceOrDestination_ReturnsEnoent()
    {
        var r = IoasRig.Bare();
        Assert.Equal(0, r.Map(FixedRw, Mem, 0x1000, 0x10000));
        Assert.Equal(Neg(Errno.ENOENT), Copy(r, Rw, r.Ioas, 99, 0x1000, 0, 0x10000, out _));
        Assert.Equal(Neg(Errno.ENOENT), Copy(r, Rw, 99, r.Ioas, 0x1000, 0, 0x10000, out _));
    }

    [Fact]
    public void Copy_SourceZeroLengthOrHole_ReturnsEinvalOrEnoent()
    {
        var r = IoasRig.Bare();
        uint dst = IoasRig.NewIoas(r.P, r.Fd);
        Assert.Equal(0, r.Map(FixedRw, Mem, 0x1000, 0x10000));
        Assert.Equal(0, r.Map(FixedRw, Mem, 0x1000, 0x12000));
        Assert.Equal(Neg(Errno.EINVAL), Copy(r, Rw, dst, r.Ioas, 0, 0, 0x10000, out _));
        Assert.Equal(Neg(Errno.ENOENT), Copy(r, Rw, dst, r.Ioas, 0x3000, 0, 0x10000, out _));
        Assert.Equal(Neg(Errno.ENOENT), Copy(r, Rw, dst, r.Ioas, 0x1000, 0, 0x20000, out _));
    }

    [Fact]
    public void Copy_ContiguousAreasAndSubRanges_MapIntoTheDestination()
    {
        var r = IoasRig.Bare();
        uint dst = IoasRig.NewIoas(r.P, r.Fd);
        Assert.Equal(0, r.Map(FixedRw, Mem, 0x2000, 0x10000));
        Assert.Equal(0, r.Map(FixedRw, Mem + 0x8000, 0x2000, 0x12000));
        Assert.Equal(0, Copy(r, FixedRw, dst, r.Ioas, 0x2000, 0x40000, 0x11000, out ulong placed));
        Assert.Equal(0x40000ul, placed);
        var areas = r.Kernel.IommufdContexts.Single().Objects.OfType<TsmLab.Kernel.Iommufd.Ioas>().Single(i => i.Id == dst).Iopt.Areas;
        Assert.Equal(2, areas.Count);
        Assert.Equal(0x1000ul, areas[0].StartByte);
        Assert.Same(r.Object.Iopt.Areas[1].Pages, areas[1].Pages);
    }

    [Fact]
    public void Copy_WriteableFromAReadOnlyMapping_ReturnsEperm()
    {
        var r = IoasRig.Bare();
        Assert.Equal(0, r.Map(IommuIoasMapFlags.FixedIova | IommuIoasMapFlags.Readable, Mem, 0x1000, 0x10000));
        Assert.Equal(Neg(Errno.EPERM), Copy(r, Rw, r.Ioas, r.Ioas, 0x1000, 0, 0x10000, out _));
        Assert.Equal(0, Copy(r, IommuIoasMapFlags.Readable, r.Ioas, r.Ioas, 0x1000, 0, 0x10000, out _));
    }

    [Fact]
    public void Copy_SharesThePages_PinnedAndChargedOnce()
    {
        var r = IoasRig.WithDomain();
        Assert.Equal(0, r.Map(FixedRw, Mem, 0x4000, 0x10000));
        Assert.Equal(0, Copy(r, FixedRw, r.Ioas, r.Ioas, 0x4000, 0x80000, 0x10000, out _));
        Assert.Equal(4, r.Kernel.UserLockedMemory.LockedPages);
        Assert.Equal(0, r.Unmap(0x10000, 0x4000, out _));
        Assert.Equal(4, r.Kernel.UserLockedMemory.LockedPages); // the copy still holds them
        Assert.Equal(0, r.Unmap(0x80000, 0x4000, out _));
        Assert.Equal(0, r.Kernel.UserLockedMemory.LockedPages);
    }

    // ---- IOVA_RANGES

    [Fact]
    public void IovaRanges_ReservedNonZero_ReturnsEopnotsupp()
    {
        var r = IoasRig.Bare();
        Assert.Equal(Neg(Errno.EOPNOTSUPP), Ioctl(r.P, r.Fd, IommufdIoctl.IoasIovaRanges, Struct(32, U32(4, r.Ioas), U32(12, 1))));
    }

    [Fact]
    public void IovaRanges_UnknownIoas_ReturnsEnoent()
    {
        var r = IoasRig.Bare();
        Assert.Equal(Neg(Errno.ENOENT), Ranges(r, 4, out _, out _, out _, ioas: 99));
    }

    [Fact]
    public void IovaRanges_WithoutDomain_IsTheWholeSpace_AlignmentOne()
    {
        var r = IoasRig.Bare();
        Assert.Equal(0, Ranges(r, 4, out uint n, out ulong align, out var got));
        Assert.Equal(1u, n);
        Assert.Equal(1ul, align);
        Assert.Equal((0ul, ulong.MaxValue), got[0]);
    }

    [Fact]
    public void IovaRanges_WithDomain_ExcludesTheIommusRegionsAndAperture()
    {
        var r = IoasRig.WithDomain();
        Assert.Equal(0, Ranges(r, 8, out uint n, out ulong align, out var got));
        Assert.Equal(4096ul, align);
        Assert.Equal([(0ul, 0xFEDF_FFFFul), (0xFEF0_0000ul, 0xFC_FFFF_FFFFul), (0x100_0000_0000ul, (1ul << 48) - 1)], got);
        Assert.Equal(3u, n);
    }

    [Fact]
    public void IovaRanges_ArrayTooSmall_FillsWhatFits_SetsTheCount_ReturnsEmsgsize()
    {
        var r = IoasRig.WithDomain();
        Assert.Equal(Neg(Errno.EMSGSIZE), Ranges(r, 1, out uint n, out _, out var got));
        Assert.Equal(3u, n);
        Assert.Equal((0ul, 0xFEDF_FFFFul), Assert.Single(got));
        Assert.Equal(Neg(Errno.EMSGSIZE), Ranges(r, 0, out n, out _, out _, array: 0));
        Assert.Equal(3u, n);
    }

    [Fact]
    public void IovaRanges_ArrayFaults_ReturnsEfault()
    {
        var r = IoasRig.Bare();
        Assert.Equal(Neg(Errno.EFAULT), Ranges(r, 1, out _, out _, out _, array: 0xdead_0000));
    }

    // ---- ALLOW_IOVAS

    [Fact]
    public void AllowIovas_ReservedNonZero_ReturnsEopnotsupp()
    {
        var r = IoasRig.Bare();
        Assert.Equal(Neg(Errno.EOPNOTSUPP), Ioctl(r.P, r.Fd, IommufdIoctl.IoasAllowIovas, Struct(24, U32(4, r.Ioas), U32(12, 1))));
    }

    [Fact]
    public void AllowIovas_UnknownIoas_ReturnsEnoent()
    {
        var r = IoasRig.Bare();
        Assert.Equal(Neg(Errno.ENOENT), Ioctl(r.P, r.Fd, IommufdIoctl.IoasAllowIovas, Struct(24, U32(4, 99))));
    }

    [Fact]
    public void AllowIovas_StartNotBelowLast_OrOverlapping_ReturnsEinval()
    {
        var r = IoasRig.Bare();
        Assert.Equal(Neg(Errno.EINVAL), Allow(r, (0x1000, 0x1000)));
        Assert.Equal(Neg(Errno.EINVAL), Allow(r, (0x1000, 0x1FFF), (0x1FFF, 0x2FFF)));
        Assert.Equal(Neg(Errno.EINVAL), Allow(r, (0x1000, 0x1FFF), (0x0, 0x5000)));
        Assert.Equal(0, Allow(r, (0x3000, 0x3FFF), (0x1000, 0x1FFF)));
    }

    [Fact]
    public void AllowIovas_ArrayFaults_ReturnsEfault()
    {
        var r = IoasRig.Bare();
        Assert.Equal(Neg(Errno.EFAULT), Ioctl(r.P, r.Fd, IommufdIoctl.IoasAllowIovas, Struct(24, U32(4, r.Ioas), U32(8, 1), U64(16, 0xdead_0000))));
    }

    [Fact]
    public void AllowIovas_OverAReservedRegion_ReturnsEaddrinuse()
    {
        var r = IoasRig.WithDomain();
        Assert.Equal(Neg(Errno.EADDRINUSE), Allow(r, (0xFE00_0000, 0xFEFF_FFFF)));
        Assert.Equal(0, Allow(r, (0x1000_0000, 0x1FFF_FFFF)));
    }

    [Fact]
    public void AllowIovas_ThenAttachingADeviceWhoseRegionIsAllowed_ReturnsEaddrinuse()
    {
        var r = IoasRig.WithDomain();
        var t = r.Assigned!;
        var ctx = r.Kernel.IommufdContexts.Single();
        ctx.Detach(ctx.Objects.OfType<TsmLab.Kernel.Iommufd.IommufdDevice>().Single());
        Assert.Equal(0, Allow(r, (0xFE00_0000, 0xFEFF_FFFF)));
        Assert.Equal(Neg(Errno.EADDRINUSE), t.Calls.AttachPt(t.Assignment.VfioFd, t.Assignment.HwptId, out _));
        Assert.Equal(0, Allow(r));
        Assert.Equal(0, t.Calls.AttachPt(t.Assignment.VfioFd, t.Assignment.HwptId, out _));
    }
}
