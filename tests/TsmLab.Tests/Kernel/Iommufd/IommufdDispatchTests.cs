using TsmLab.Abi;
using TsmLab.Hosts;
using TsmLab.Kernel;
using static TsmLab.Tests.Kernel.Raw;
using System.Buffers.Binary;

namespace TsmLab.Tests.Kernel.Iommufd;

/// <summary>The generic iommufd entry: Linux's rules in Linux's order (docs/errno.md "generic").</summary>
public class IommufdDispatchTests
{
    private static (Process P, int Fd) Open()
    {
        var p = HostKernel.Boot(BuiltInHosts.Find("default")!).CreateProcess();
        return (p, p.Open("/dev/iommu"));
    }

    [Fact]
    public void NrBelowTable_ReturnsEnottyWithoutReadingMemory()
    {
        var (p, fd) = Open();
        Assert.Equal(Neg(Errno.ENOTTY), p.Ioctl(fd, 0x3B7F, 0));
    }

    [Fact]
    public void NrAboveTable_ReturnsEnotty()
    {
        var (p, fd) = Open();
        Assert.Equal(Neg(Errno.ENOTTY), p.Ioctl(fd, 0x3BE1, 0));
    }

    [Fact]
    public void EmptyRowInsideTable_ReadsSizeFirst_ThenEnotty()
    {
        var (p, fd) = Open();
        Assert.Equal(Neg(Errno.EFAULT), p.Ioctl(fd, 0x3B97, 0xdead_0000));
        Assert.Equal(Neg(Errno.ENOTTY), Ioctl(p, fd, 0x3B97, Struct(16)));
    }

    [Fact]
    public void SameNrOtherEncoding_ReturnsEnotty()
    {
        var (p, fd) = Open();
        Assert.Equal(Neg(Errno.ENOTTY), Ioctl(p, fd, 0xC0303B96, Struct(48)));
    }

    [Fact]
    public void SizeUnreadable_ReturnsEfault()
    {
        var (p, fd) = Open();
        Assert.Equal(Neg(Errno.EFAULT), p.Ioctl(fd, IommufdIoctl.IoasAlloc, 0x1234_0000));
    }

    [Fact]
    public void SizeBelowMinimum_ReturnsEinval()
    {
        var (p, fd) = Open();
        Assert.Equal(Neg(Errno.EINVAL), Ioctl(p, fd, IommufdIoctl.IoasAlloc, Struct(8)));
        Assert.Equal(Neg(Errno.EINVAL), Ioctl(p, fd, IommufdIoctl.VdeviceTsmReq, Struct(40)));
    }

    [Fact]
    public void LargerStructWithNonZeroTail_ReturnsE2big()
    {
        var (p, fd) = Open();
        var s = Struct(16);
        s[13] = 1;
        Assert.Equal(Neg(Errno.E2BIG), Ioctl(p, fd, IommufdIoctl.IoasAlloc, s));
        Assert.Empty(p.Kernel.IommufdContexts[0].Objects);
    }

    [Fact]
    public void LargerStructWithZeroTail_IsAccepted()
    {
        var (p, fd) = Open();
        Assert.Equal(0, Ioctl(p, fd, IommufdIoctl.IoasAlloc, Struct(4096)));
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(Read(p, 12).AsSpan(IommuIoasAlloc.OutIoasId)));
    }

    [Fact]
    public void LargerStructWhoseTailFaults_ReturnsEfault()
    {
        var (p, fd) = Open();
        MapBuffer(p);
        ulong at = Buf + 4 * 4096 - 12;
        Assert.Equal(0, p.Memory.CopyToUser(at, Struct(12)));
        Assert.Equal(0, p.Memory.CopyToUser(at, BitConverter.GetBytes(64u)));
        Assert.Equal(Neg(Errno.EFAULT), p.Ioctl(fd, IommufdIoctl.IoasAlloc, at));
    }

    [Fact]
    public void StructCrossingIntoUnmappedPage_ReturnsEfault()
    {
        var (p, fd) = Open();
        MapBuffer(p);
        ulong at = Buf + 4 * 4096 - 4;
        Assert.Equal(0, p.Memory.CopyToUser(at, BitConverter.GetBytes(12u)));
        Assert.Equal(Neg(Errno.EFAULT), p.Ioctl(fd, IommufdIoctl.IoasAlloc, at));
    }

    [Fact]
    public void ShorterValidStruct_IsZeroFilledAndOnlyItsBytesAreWrittenBack()
    {
        var rig = TestHosts.Assigned(TvmArch.Sev, bind: false);
        var p = rig.Vmm;
        // HWPT_ALLOC at its minimum size (24): data_type, data_len, fault_id come from the zero fill.
        var s = Struct(24, U32(IommuHwptAlloc.DevId, rig.Assignment.DevId), U32(IommuHwptAlloc.PtId, rig.Assignment.IoasId));
        var withGuard = s.Concat(Enumerable.Repeat((byte)0xAA, 24)).ToArray();
        Assert.Equal(0, Ioctl(p, rig.IommuFd, IommufdIoctl.HwptAlloc, withGuard));
        var back = Read(p, 48);
        Assert.NotEqual(0u, BinaryPrimitives.ReadUInt32LittleEndian(back.AsSpan(IommuHwptAlloc.OutHwptId)));
        Assert.All(back[24..], b => Assert.Equal(0xAA, b));
    }

    [Fact]
    public void IoctlOnAnotherFileType_ReturnsEnotty()
    {
        var (p, _) = Open();
        int kvm = p.Open("/dev/kvm");
        Assert.Equal(Neg(Errno.ENOTTY), p.Ioctl(kvm, IommufdIoctl.IoasAlloc, Buf));
    }
}
