using System.Buffers.Binary;
using TsmLab.Abi;
using TsmLab.Kernel;
using TsmLab.Kernel.Iommufd;
using static TsmLab.Tests.Kernel.Raw;

namespace TsmLab.Tests.Kernel.Iommufd;

/// <summary>A process with /dev/iommu open, an IOAS, and user memory to map; with or without an IOMMU domain on the IOAS.</summary>
internal sealed class IoasRig
{
    /// <summary>Where the rig maps user memory (16 MiB, read-write).</summary>
    public const ulong Mem = 0x2000_0000;
    public const ulong MemSize = 16 << 20;

    public required HostKernel Kernel { get; init; }
    public required Process P { get; init; }
    public required int Fd { get; init; }
    public required uint Ioas { get; init; }
    public TestRig? Assigned { get; init; }
    public Ioas Object => Kernel.IommufdContexts.Single().Objects.OfType<Ioas>().Single(i => i.Id == Ioas);

    /// <summary>No domain: maps are lazy and the IOVA alignment is 1.</summary>
    public static IoasRig Bare()
    {
        var (k, _) = TestHosts.Boot(TvmArch.Sev, connect: false);
        var p = k.CreateProcess();
        int fd = p.Open("/dev/iommu");
        var r = new IoasRig { Kernel = k, P = p, Fd = fd, Ioas = NewIoas(p, fd) };
        Assert.Equal(0, p.Memory.Map(Mem, MemSize, Prot.ReadWrite));
        return r;
    }

    /// <summary>The assignment's IOAS: a nest-parent domain (AMD IOMMU: 4 KiB pages, the MSI and HyperTransport windows reserved) and the device attached.</summary>
    public static IoasRig WithDomain()
    {
        var t = TestHosts.Assigned(TvmArch.Sev, bind: false);
        var r = new IoasRig { Kernel = t.Kernel, P = t.Vmm, Fd = t.IommuFd, Ioas = t.Assignment.IoasId, Assigned = t };
        Assert.Equal(0, t.Vmm.Memory.Map(Mem, MemSize, Prot.ReadWrite));
        return r;
    }

    public static uint NewIoas(Process p, int fd)
    {
        Assert.Equal(0, Ioctl(p, fd, IommufdIoctl.IoasAlloc, Struct(12)));
        return BinaryPrimitives.ReadUInt32LittleEndian(Read(p, 12).AsSpan(IommuIoasAlloc.OutIoasId));
    }

    public static byte[] MapCmd(uint ioas, uint flags, ulong uva, ulong length, ulong iova = 0) =>
        Struct(IommuIoasMap.SizeOf, U32(IommuIoasMap.Flags, flags), U32(IommuIoasMap.IoasId, ioas), U64(IommuIoasMap.UserVa, uva),
            U64(IommuIoasMap.Length, length), U64(IommuIoasMap.Iova, iova));

    public const uint Rw = IommuIoasMapFlags.Readable | IommuIoasMapFlags.Writeable;
    public const uint FixedRw = Rw | IommuIoasMapFlags.FixedIova;

    /// <summary>IOAS_MAP; the IOVA written back (or ulong.MaxValue on failure) and the result.</summary>
    public long Map(uint flags, ulong uva, ulong length, ulong iova, out ulong placed, uint? ioas = null)
    {
        long rc = Ioctl(P, Fd, IommufdIoctl.IoasMap, MapCmd(ioas ?? Ioas, flags, uva, length, iova));
        placed = rc == 0 ? BinaryPrimitives.ReadUInt64LittleEndian(Read(P, IommuIoasMap.SizeOf).AsSpan(IommuIoasMap.Iova)) : ulong.MaxValue;
        return rc;
    }

    public long Map(uint flags, ulong uva, ulong length, ulong iova = 0) => Map(flags, uva, length, iova, out _);

    public long Unmap(ulong iova, ulong length, out ulong unmapped, uint? ioas = null)
    {
        long rc = Ioctl(P, Fd, IommufdIoctl.IoasUnmap, Struct(IommuIoasUnmap.SizeOf, U32(IommuIoasUnmap.IoasId, ioas ?? Ioas),
            U64(IommuIoasUnmap.Iova, iova), U64(IommuIoasUnmap.Length, length)));
        unmapped = rc == 0 ? BinaryPrimitives.ReadUInt64LittleEndian(Read(P, IommuIoasUnmap.SizeOf).AsSpan(IommuIoasUnmap.Length)) : ulong.MaxValue;
        return rc;
    }
}

/// <summary>IOMMU_IOAS_MAP and the pinning it does (docs/errno.md, "IOAS mapping").</summary>
public class IoasMapTests
{
    private const ulong Mem = IoasRig.Mem;
    private const uint Rw = IoasRig.Rw, FixedRw = IoasRig.FixedRw;

    [Theory]
    [InlineData(1u << 3, 0u)]
    [InlineData(IoasRig.Rw, 1u)]
    public void Map_UnknownFlagOrReserved_ReturnsEopnotsupp(uint flags, uint reserved)
    {
        var r = IoasRig.Bare();
        var s = IoasRig.MapCmd(r.Ioas, flags, Mem, 4096);
        BinaryPrimitives.WriteUInt32LittleEndian(s.AsSpan(IommuIoasMap.Reserved), reserved);
        Assert.Equal(Neg(Errno.EOPNOTSUPP), Ioctl(r.P, r.Fd, IommufdIoctl.IoasMap, s));
    }

    [Fact]
    public void Map_IovaOrLengthUlongMax_ReturnsEoverflow_BeforeTheIoasLookup()
    {
        var r = IoasRig.Bare();
        Assert.Equal(Neg(Errno.EOVERFLOW), r.Map(FixedRw, Mem, 4096, ulong.MaxValue, out _, ioas: 99));
        Assert.Equal(Neg(Errno.EOVERFLOW), r.Map(Rw, Mem, ulong.MaxValue, 0, out _, ioas: 99));
    }

    [Fact]
    public void Map_WithoutReadOrWrite_ReturnsEinval()
    {
        var r = IoasRig.Bare();
        Assert.Equal(Neg(Errno.EINVAL), r.Map(IommuIoasMapFlags.FixedIova, Mem, 4096, 0x10000));
    }

    [Fact]
    public void Map_UnknownIoas_ReturnsEnoent()
    {
        var r = IoasRig.Bare();
        Assert.Equal(Neg(Errno.ENOENT), r.Map(Rw, Mem, 4096, 0, out _, ioas: 99));
    }

    [Fact]
    public void Map_UserVaPlusLengthWraps_ReturnsEoverflow()
    {
        var r = IoasRig.Bare();
        Assert.Equal(Neg(Errno.EOVERFLOW), r.Map(Rw, ulong.MaxValue - 4095, 8192));
    }

    [Fact]
    public void Map_ZeroLength_ReturnsEinval()
    {
        var r = IoasRig.Bare();
        Assert.Equal(Neg(Errno.EINVAL), r.Map(FixedRw, Mem, 0, 0x10000));
    }

    [Fact]
    public void Map_FixedIova_IsPlacedThere_AsOneArea()
    {
        var r = IoasRig.Bare();
        Assert.Equal(0, r.Map(FixedRw, Mem, 0x10_0000, 0x4000_0000, out ulong iova));
        Assert.Equal(0x4000_0000ul, iova);
        var a = Assert.Single(r.Object.Iopt.Areas);
        Assert.Equal((0x4000_0000ul, 0x400F_FFFFul, true, true), (a.Iova, a.Last, a.Readable, a.Writable));
    }

    [Fact]
    public void Map_FixedIovaOverAMapping_ReturnsEexist()
    {
        var r = IoasRig.Bare();
        Assert.Equal(0, r.Map(FixedRw, Mem, 0x2000, 0x10000));
        Assert.Equal(Neg(Errno.EEXIST), r.Map(FixedRw, Mem, 0x1000, 0x11000));
        Assert.Equal(Neg(Errno.EEXIST), r.Map(FixedRw, Mem, 0x2000, 0xF000));
        Assert.Equal(0, r.Map(FixedRw, Mem, 0x1000, 0x12000));
    }

    [Fact]
    public void Map_FixedIovaOverflowingTheSpace_ReturnsEoverflow()
    {
        var r = IoasRig.Bare();
        Assert.Equal(Neg(Errno.EOVERFLOW), r.Map(FixedRw, Mem, 0x2000, ulong.MaxValue - 0xFFF));
    }

    [Fact]
    public void Map_FixedIovaOverAReservedRegion_ReturnsEinval()
    {
        var r = IoasRig.WithDomain();
        Assert.Equal(Neg(Errno.EINVAL), r.Map(FixedRw, Mem, 0x1000, 0xFEE0_0000));
        Assert.Equal(Neg(Errno.EINVAL), r.Map(FixedRw, Mem, 0x1000, 1ul << 48)); // beyond the aperture
    }

    [Fact]
    public void Map_WithDomain_UnalignedIovaLengthOrUserVa_ReturnsEinval()
    {
        var r = IoasRig.WithDomain();
        Assert.Equal(Neg(Errno.EINVAL), r.Map(FixedRw, Mem, 0x1000, 0x10800));
        Assert.Equal(Neg(Errno.EINVAL), r.Map(FixedRw, Mem, 0x800, 0x10000));
        Assert.Equal(Neg(Errno.EINVAL), r.Map(FixedRw, Mem + 0x800, 0x1000, 0x10000));
    }

    [Fact]
    public void Map_WithoutDomain_AnyAlignmentIsAccepted()
    {
        var r = IoasRig.Bare();
        Assert.Equal(0, r.Map(FixedRw, Mem + 0x123, 0x7, 0x10_0456));
        Assert.Equal(1ul, r.Object.Iopt.IovaAlignment);
    }

    [Fact]
    public void Map_AllocatedIova_IsNeverZero_AlignedToLengthAndUserVa()
    {
        var r = IoasRig.Bare();
        Assert.Equal(0, r.Map(Rw, Mem, 0x4000, 0, out ulong a));
        Assert.Equal(0x4000ul, a); // [PAGE_SIZE, …) aligned to roundup_pow_of_two(0x4000)
        Assert.Equal(0, r.Map(Rw, Mem + 0x1000, 0x4000, 0, out ulong b));
        Assert.Equal(0x8000ul, b); // alignment min(0x4000, 1 << ffs(uva)) = 0x1000; [0x1000, 0x3fff] is too small
        Assert.Equal(0, r.Map(Rw, Mem + 0x123, 0x10, 0, out ulong c));
        Assert.Equal(0x123ul & 0xFFF, c & 0xFFF); // keeps the user page offset
    }

    [Fact]
    public void Map_AllocatedIova_SkipsReservedRegions()
    {
        // 512 GiB aligned to 512 GiB would start at 0x80_0000_0000, but the AMD IOMMU's
        // HyperTransport window (0xfd_0000_0000–0xff_ffff_ffff) is reserved: the next fit is 1 TiB.
        var r = IoasRig.WithDomain();
        const ulong size = 1ul << 39, uva = 0x1000_0000_0000;
        Assert.Equal(0, r.P.Memory.Map(uva, size, Prot.ReadWrite));
        r.P.Limits.MemlockLimit = ProcessLimits.Infinity;
        Assert.Equal(0, r.Map(Rw, uva, size, 0, out ulong a));
        Assert.Equal(0x100_0000_0000ul, a);
    }

    [Fact]
    public void Map_AllocatedLengthOfHalfTheSpace_ReturnsEoverflow()
    {
        var r = IoasRig.Bare();
        Assert.Equal(Neg(Errno.EOVERFLOW), r.Map(Rw, 0, ulong.MaxValue / 2));
    }

    [Fact]
    public void Map_AllocatedWithNoRoomInTheAllowedRanges_ReturnsEnospc()
    {
        var r = IoasRig.Bare();
        Assert.Equal(0, IoasRangeTests.Allow(r, (0x10000, 0x1FFFF)));
        Assert.Equal(0, r.Map(Rw, Mem, 0x10000, 0, out ulong a));
        Assert.Equal(0x10000ul, a);
        Assert.Equal(Neg(Errno.ENOSPC), r.Map(Rw, Mem, 0x1000));
    }

    [Fact]
    public void Map_WithDomain_AllocatedAlignmentBelowThePageSize_ReturnsEinval()
    {
        var r = IoasRig.WithDomain();
        Assert.Equal(Neg(Errno.EINVAL), r.Map(Rw, Mem + 0x800, 0x1000));
    }

    [Fact]
    public void Map_WithoutDomain_UnmappedUserMemory_IsAcceptedLazily()
    {
        var r = IoasRig.Bare();
        Assert.Equal(0, r.Map(FixedRw, 0x5000_0000, 0x10000, 0x10000));
        Assert.Equal(0, r.Object.Iopt.Areas[0].Pages.Pinned);
    }

    [Fact]
    public void Map_WithDomain_UnmappedUserMemory_ReturnsEfault_AndMapsNothing()
    {
        var r = IoasRig.WithDomain();
        Assert.Equal(Neg(Errno.EFAULT), r.Map(FixedRw, Mem + IoasRig.MemSize - 0x1000, 0x2000, 0x10000));
        Assert.Empty(r.Object.Iopt.Areas);
    }

    [Fact]
    public void Map_WithDomain_WriteableOverReadOnlyMemory_ReturnsEfault_ReadableOnlyPins()
    {
        var r = IoasRig.WithDomain();
        Assert.Equal(0, r.P.Memory.Protect(Mem, 0x1000, Prot.Read));
        Assert.Equal(Neg(Errno.EFAULT), r.Map(FixedRw, Mem, 0x1000, 0x10000));
        Assert.Equal(0, r.Map(IommuIoasMapFlags.FixedIova | IommuIoasMapFlags.Readable, Mem, 0x1000, 0x10000));
    }

    [Fact]
    public void Map_WithDomain_PinsAndChargesTheUser_UnmapRefunds()
    {
        var r = IoasRig.WithDomain();
        Assert.Equal(0, r.Map(FixedRw, Mem, 0x10_0000, 0x10_0000));
        Assert.Equal(256, r.Kernel.UserLockedMemory.LockedPages);
        Assert.Equal(256, r.P.Limits.PinnedPages);
        Assert.Equal(0, r.Unmap(0x10_0000, 0x10_0000, out _));
        Assert.Equal(0, r.Kernel.UserLockedMemory.LockedPages);
        Assert.Equal(0, r.P.Limits.PinnedPages);
    }

    [Fact]
    public void Map_WithDomain_PastRlimitMemlock_ReturnsEnomem_UnlessCapIpcLock()
    {
        var r = IoasRig.WithDomain();
        r.P.Limits.MemlockLimit = 0x8000;
        Assert.Equal(0, r.Map(FixedRw, Mem, 0x8000, 0x10000));
        Assert.Equal(Neg(Errno.ENOMEM), r.Map(FixedRw, Mem + 0x8000, 0x1000, 0x20000));
        Assert.Single(r.Object.Iopt.Areas);
        r.P.Limits.CapIpcLock = true;
        Assert.Equal(0, r.Map(FixedRw, Mem + 0x8000, 0x1000, 0x20000));
        Assert.Equal(8, r.Kernel.UserLockedMemory.LockedPages);
        Assert.Equal(9, r.P.Limits.PinnedPages);
    }

    [Fact]
    public void Map_SamePagesTwice_AreChargedTwice_PerMapping()
    {
        var r = IoasRig.WithDomain();
        Assert.Equal(0, r.Map(FixedRw, Mem, 0x1000, 0x10000));
        Assert.Equal(0, r.Map(FixedRw, Mem, 0x1000, 0x20000));
        Assert.Equal(2, r.Kernel.UserLockedMemory.LockedPages);
    }

    [Fact]
    public void Map_ManyGibibytes_IsOneArea_WithPageCountsOnly()
    {
        var r = IoasRig.WithDomain();
        const ulong size = 64ul << 30;
        Assert.Equal(0, r.P.Memory.Map(0x1000_0000_0000, size, Prot.ReadWrite));
        r.P.Limits.MemlockLimit = ProcessLimits.Infinity;
        Assert.Equal(0, r.Map(FixedRw, 0x1000_0000_0000, size, 1ul << 40));
        Assert.Single(r.Object.Iopt.Areas);
        Assert.Equal((long)(size >> 12), r.Object.Iopt.Areas[0].Pages.Pinned);
        Assert.Equal(0, r.P.Memory.ResidentPages > 16 ? 1 : 0);
    }

    [Fact]
    public void Info_ShowsTheIoasAreasPinnedPagesAndAlignment()
    {
        var r = IoasRig.WithDomain();
        Assert.Equal(0, r.Map(FixedRw, Mem, 0x4000, 0x10000));
        Assert.Contains($"{r.Ioas} ioas, 1 area(s) of 0x4000 bytes, 4 page(s) pinned, alignment 0x1000", TsmLab.Presentation.HostReport.Tree(r.Kernel), StringComparison.Ordinal);
        using var doc = System.Text.Json.JsonDocument.Parse(TsmLab.Presentation.HostReport.Json(r.Kernel));
        Assert.Contains("\"pinned_pages\":4", TsmLab.Presentation.HostReport.Json(r.Kernel).Replace(" ", ""), StringComparison.Ordinal);
    }

    [Fact]
    public void ProcessExit_ReleasesTheContext_AndRefundsEveryPin()
    {
        var r = IoasRig.WithDomain();
        Assert.Equal(0, r.Map(FixedRw, Mem, 0x10_0000, 0x10_0000));
        Assert.Equal(256, r.Kernel.UserLockedMemory.LockedPages);
        r.P.Exit();
        Assert.Empty(r.Kernel.IommufdContexts);
        Assert.Equal((0L, 0L), (r.Kernel.UserLockedMemory.LockedPages, r.P.Limits.PinnedPages));
    }

    [Fact]
    public void Map_CopyBackFault_ReturnsEfault_AndTheMappingStays()
    {
        var r = IoasRig.Bare();
        MapBuffer(r.P);
        r.P.Memory.CopyToUser(Buf, IoasRig.MapCmd(r.Ioas, FixedRw, Mem, 0x1000, 0x10000));
        r.P.Memory.Protect(Buf, 4096, Prot.Read);
        Assert.Equal(Neg(Errno.EFAULT), r.P.Ioctl(r.Fd, IommufdIoctl.IoasMap, Buf));
        Assert.Single(r.Object.Iopt.Areas);
    }

    [Fact]
    public void HwptAlloc_OverAMappingOfUnmappedMemory_ReturnsEfault_AndPinsNothing()
    {
        var r = IoasRig.WithDomain();
        uint ioas = IoasRig.NewIoas(r.P, r.Fd);
        Assert.Equal(0, r.Map(FixedRw, 0x5000_0000, 0x1000, 0x10000, out _, ioas));
        Assert.Equal(Neg(Errno.EFAULT), r.Assigned!.Calls.HwptAlloc(r.Fd, r.Assigned.Assignment.DevId, ioas, 0, out _));
        Assert.Equal(0, r.P.Limits.PinnedPages);
    }

    [Fact]
    public void HwptAlloc_PastRlimitMemlock_ReturnsEnomem()
    {
        var r = IoasRig.WithDomain();
        uint ioas = IoasRig.NewIoas(r.P, r.Fd);
        Assert.Equal(0, r.Map(FixedRw, Mem, IoasRig.MemSize, 0x100_0000, out _, ioas));
        Assert.Equal(Neg(Errno.ENOMEM), r.Assigned!.Calls.HwptAlloc(r.Fd, r.Assigned.Assignment.DevId, ioas, 0, out _));
        r.P.Limits.MemlockLimit = IoasRig.MemSize;
        Assert.Equal(0, r.Assigned.Calls.HwptAlloc(r.Fd, r.Assigned.Assignment.DevId, ioas, 0, out uint hwpt));
        Assert.Equal(4096, r.Kernel.UserLockedMemory.LockedPages);
        Assert.Equal(0, r.Assigned.Calls.Destroy(r.Fd, hwpt));
        Assert.Equal(0, r.Kernel.UserLockedMemory.LockedPages);
    }

    [Fact]
    public void HwptAlloc_OverAMappingNotPageAligned_ReturnsEaddrinuse()
    {
        var r = IoasRig.WithDomain();
        uint ioas = IoasRig.NewIoas(r.P, r.Fd);
        Assert.Equal(0, r.Map(FixedRw, Mem, 0x800, 0x10000, out _, ioas));
        Assert.Equal(Neg(Errno.EADDRINUSE), r.Assigned!.Calls.HwptAlloc(r.Fd, r.Assigned.Assignment.DevId, ioas, 0, out _));
    }

    [Fact]
    public void HwptAlloc_OverAMappingOutsideTheAperture_ReturnsEaddrinuse()
    {
        var r = IoasRig.WithDomain();
        uint ioas = IoasRig.NewIoas(r.P, r.Fd);
        Assert.Equal(0, r.Map(FixedRw, Mem, 0x1000, 1ul << 50, out _, ioas));
        Assert.Equal(Neg(Errno.EADDRINUSE), r.Assigned!.Calls.HwptAlloc(r.Fd, r.Assigned.Assignment.DevId, ioas, 0, out _));
    }

    [Fact]
    public void Attach_DeviceWhoseReservedRegionIsMapped_ReturnsEaddrinuse()
    {
        var r = IoasRig.WithDomain();
        var t = r.Assigned!;
        uint ioas = IoasRig.NewIoas(r.P, r.Fd);
        Assert.Equal(0, r.Map(FixedRw, Mem, 0x1000, 0xFEE0_0000, out _, ioas));
        Assert.Equal(0, t.Calls.HwptAlloc(r.Fd, t.Assignment.DevId, ioas, 0, out uint hwpt));
        // Move the device off the assignment's HWPT, then attach it where its MSI window is mapped:
        // to the HWPT, and to the IOAS (the automatic domain reserves the regions before it joins).
        var ctx = r.Kernel.IommufdContexts.Single();
        ctx.Detach(ctx.Objects.OfType<IommufdDevice>().Single());
        Assert.Equal(Neg(Errno.EADDRINUSE), t.Calls.AttachPt(t.Assignment.VfioFd, hwpt, out _));
        Assert.Equal(Neg(Errno.EADDRINUSE), t.Calls.AttachPt(t.Assignment.VfioFd, ioas, out _));
        Assert.Equal(0, t.Calls.AttachPt(t.Assignment.VfioFd, t.Assignment.HwptId, out _));
    }
}
