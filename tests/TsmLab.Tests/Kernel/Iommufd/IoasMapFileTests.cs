using System.Buffers.Binary;
using TsmLab.Abi;
using TsmLab.Kernel;
using static TsmLab.Tests.Kernel.Raw;

namespace TsmLab.Tests.Kernel.Iommufd;

/// <summary>IOMMU_IOAS_MAP_FILE with a memfd (docs/errno.md, "IOAS mapping").</summary>
public class IoasMapFileTests
{
    private const uint FixedRw = IoasRig.FixedRw;

    private static long MapFile(IoasRig r, uint flags, int fd, ulong start, ulong length, ulong iova, uint? ioas = null) =>
        Ioctl(r.P, r.Fd, IommufdIoctl.IoasMapFile, Struct(IommuIoasMapFile.SizeOf, U32(IommuIoasMapFile.Flags, flags),
            U32(IommuIoasMapFile.IoasId, ioas ?? r.Ioas), U32(IommuIoasMapFile.Fd, (ulong)(uint)fd), U64(IommuIoasMapFile.Start, start),
            U64(IommuIoasMapFile.Length, length), U64(IommuIoasMapFile.Iova, iova)));

    private static (int Fd, MemfdFile File) Memfd(IoasRig r, ulong size)
    {
        int fd = MemfdFile.Create(r.P, "guest-ram", out var f);
        Assert.True(fd >= 3);
        Assert.Equal(0, f.Truncate(size));
        return (fd, f);
    }

    [Fact]
    public void MapFile_UnknownFlag_ReturnsEopnotsupp()
    {
        var r = IoasRig.Bare();
        Assert.Equal(Neg(Errno.EOPNOTSUPP), MapFile(r, FixedRw | 8, 3, 0, 0x1000, 0));
    }

    [Fact]
    public void MapFile_IovaOrLengthUlongMax_ReturnsEoverflow()
    {
        var r = IoasRig.Bare();
        Assert.Equal(Neg(Errno.EOVERFLOW), MapFile(r, FixedRw, 3, 0, ulong.MaxValue, 0));
        Assert.Equal(Neg(Errno.EOVERFLOW), MapFile(r, FixedRw, 3, 0, 0x1000, ulong.MaxValue));
    }

    [Fact]
    public void MapFile_WithoutReadOrWrite_ReturnsEinval()
    {
        var r = IoasRig.Bare();
        Assert.Equal(Neg(Errno.EINVAL), MapFile(r, IommuIoasMapFlags.FixedIova, 3, 0, 0x1000, 0));
    }

    [Fact]
    public void MapFile_UnknownIoas_ReturnsEnoent_BeforeTheFd()
    {
        var r = IoasRig.Bare();
        Assert.Equal(Neg(Errno.ENOENT), MapFile(r, FixedRw, 99, 0, 0x1000, 0, ioas: 99));
    }

    [Fact]
    public void MapFile_FdNotOpen_ReturnsEbadf()
    {
        var r = IoasRig.Bare();
        Assert.Equal(Neg(Errno.EBADF), MapFile(r, FixedRw, 99, 0, 0x1000, 0));
    }

    [Fact]
    public void MapFile_StartPlusLengthWraps_ReturnsEoverflow()
    {
        var r = IoasRig.Bare();
        var (fd, _) = Memfd(r, 0x10000);
        Assert.Equal(Neg(Errno.EOVERFLOW), MapFile(r, FixedRw, fd, ulong.MaxValue - 0xFFF, 0x2000, 0x10000));
    }

    [Fact]
    public void MapFile_Memfd_WithDomain_PinsTheFilesPages_AndChargesThem()
    {
        var r = IoasRig.WithDomain();
        var (fd, _) = Memfd(r, 0x10_0000);
        Assert.Equal(0, MapFile(r, FixedRw, fd, 0x1000, 0x4000, 0x40_0000));
        Assert.Equal(0x40_0000ul, BinaryPrimitives.ReadUInt64LittleEndian(Read(r.P, IommuIoasMapFile.SizeOf).AsSpan(IommuIoasMapFile.Iova)));
        Assert.Equal(4, r.Kernel.UserLockedMemory.LockedPages);
    }

    [Fact]
    public void MapFile_WithDomain_PastTheEndOfTheMemfd_ReturnsEinval()
    {
        var r = IoasRig.WithDomain();
        var (fd, _) = Memfd(r, 0x2000);
        Assert.Equal(Neg(Errno.EINVAL), MapFile(r, FixedRw, fd, 0x1000, 0x2000, 0x40_0000));
        Assert.Empty(r.Object.Iopt.Areas);
    }

    [Fact]
    public void MapFile_WithDomain_AFileThatIsNotShmem_ReturnsEinval_WithoutDomain_IsLazy()
    {
        var r = IoasRig.WithDomain();
        int kvm = r.P.Open("/dev/kvm");
        Assert.Equal(Neg(Errno.EINVAL), MapFile(r, FixedRw, kvm, 0, 0x1000, 0x40_0000));
        var b = IoasRig.Bare();
        int kvm2 = b.P.Open("/dev/kvm");
        Assert.Equal(0, MapFile(b, FixedRw, kvm2, 0, 0x1000, 0x40_0000));
    }

    [Fact]
    public void MapFile_HoldsTheFile_UntilUnmapped()
    {
        var r = IoasRig.Bare();
        var (fd, file) = Memfd(r, 0x10000);
        Assert.Equal(0, MapFile(r, FixedRw, fd, 0, 0x10000, 0x10000));
        Assert.Equal(0, r.P.Close(fd));
        Assert.False(file.Released);
        Assert.Equal(0, r.Unmap(0x10000, 0x10000, out _));
        Assert.True(file.Released);
    }
}
