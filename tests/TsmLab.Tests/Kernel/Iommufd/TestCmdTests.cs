using System.Buffers.Binary;
using TsmLab.Abi;
using TsmLab.Hosts;
using TsmLab.Kernel;
using TsmLab.Kernel.Iommufd;
using TsmLab.Vmm;
using static TsmLab.Tests.Kernel.Raw;

namespace TsmLab.Tests.Kernel.Iommufd;

/// <summary>IOMMU_TEST_CMD on the selftest host (CONFIG_IOMMUFD_TEST; docs/selftests.md, docs/errno.md).</summary>
public class TestCmdTests
{
    private const ulong Mem = 0x2000_0000;

    private static (Process P, int Fd, uint Ioas) Selftest()
    {
        var k = HostKernel.Boot(BuiltInHosts.Find(BuiltInHosts.SelftestHost)!);
        var p = k.CreateProcess();
        int fd = p.Open("/dev/iommu");
        Assert.Equal(0, p.Memory.Map(Mem, 1 << 20, Prot.ReadWrite));
        return (p, fd, IoasRig.NewIoas(p, fd));
    }

    private static byte[] Cmd(uint op, uint id = 0, params (int, ulong, int)[] fields) =>
        Struct(IommuTestCmd.SizeOf, [U32(IommuTestCmd.Size, IommuTestCmd.SizeOf), U32(IommuTestCmd.Op, op), U32(IommuTestCmd.Id, id), .. fields]);

    [Fact]
    public void TestCmd_OnAHostWithoutConfigIommufdTest_IsEnotty()
    {
        var k = HostKernel.Boot(BuiltInHosts.Find("default")!);
        var p = k.CreateProcess();
        int fd = p.Open("/dev/iommu");
        Assert.Equal(Neg(Errno.ENOTTY), Ioctl(p, fd, IommuTestCmd.Number, Cmd(IommuTestCmd.OpSetTempMemoryLimit, 0, U32(IommuTestCmd.MemoryLimit, 65536))));
    }

    [Fact]
    public void TestCmd_ShortStruct_IsEinval_AndAnUnknownOp_IsEopnotsupp()
    {
        var (p, fd, _) = Selftest();
        var shortCmd = Cmd(IommuTestCmd.OpSetTempMemoryLimit);
        BinaryPrimitives.WriteUInt32LittleEndian(shortCmd, 67);
        Assert.Equal(Neg(Errno.EINVAL), Ioctl(p, fd, IommuTestCmd.Number, shortCmd));
        Assert.Equal(Neg(Errno.EOPNOTSUPP), Ioctl(p, fd, IommuTestCmd.Number, Cmd(99)));
        Assert.Equal(Neg(Errno.EOPNOTSUPP), Ioctl(p, fd, IommuTestCmd.Number, Cmd(0)));
        Assert.Equal(Neg(Errno.EOPNOTSUPP), Ioctl(p, fd, IommuTestCmd.Number, Cmd(IommuTestCmd.OpPasidCheckHwpt + 1)));
    }

    [Fact]
    public void SetTempMemoryLimit_BelowTwelve_IsEinval_OtherwiseRecorded()
    {
        var (p, fd, _) = Selftest();
        Assert.Equal(Neg(Errno.EINVAL), Ioctl(p, fd, IommuTestCmd.Number, Cmd(IommuTestCmd.OpSetTempMemoryLimit, 0, U32(IommuTestCmd.MemoryLimit, 11))));
        Assert.Equal(0, Ioctl(p, fd, IommuTestCmd.Number, Cmd(IommuTestCmd.OpSetTempMemoryLimit, 0, U32(IommuTestCmd.MemoryLimit, 16))));
        Assert.Equal(0, Ioctl(p, fd, IommuTestCmd.Number, Cmd(IommuTestCmd.OpSetTempMemoryLimit, 0, U32(IommuTestCmd.MemoryLimit, 65536))));
    }

    [Fact]
    public void AddReserved_ChecksLengthOverflowAndIoas_ThenReservesTheInterval()
    {
        var (p, fd, ioas) = Selftest();
        Assert.Equal(Neg(Errno.EINVAL), Ioctl(p, fd, IommuTestCmd.Number, Cmd(IommuTestCmd.OpAddReserved, ioas, U64(IommuTestCmd.AddReservedStart, 0x10000), U64(IommuTestCmd.AddReservedLength, 0))));
        Assert.Equal(Neg(Errno.EOVERFLOW), Ioctl(p, fd, IommuTestCmd.Number, Cmd(IommuTestCmd.OpAddReserved, ioas, U64(IommuTestCmd.AddReservedStart, ulong.MaxValue - 10), U64(IommuTestCmd.AddReservedLength, 0x1000))));
        Assert.Equal(Neg(Errno.ENOENT), Ioctl(p, fd, IommuTestCmd.Number, Cmd(IommuTestCmd.OpAddReserved, 999, U64(IommuTestCmd.AddReservedStart, 0x10000), U64(IommuTestCmd.AddReservedLength, 0x1000))));
        Assert.Equal(0, Ioctl(p, fd, IommuTestCmd.Number, Cmd(IommuTestCmd.OpAddReserved, ioas, U64(IommuTestCmd.AddReservedStart, 0x10000), U64(IommuTestCmd.AddReservedLength, 0x1000))));
        // A fixed map over the reservation is refused; one beside it is not.
        Assert.True(Ioctl(p, fd, IommufdIoctl.IoasMap, IoasRig.MapCmd(ioas, IoasRig.FixedRw, Mem, 0x1000, 0x10000)) < 0);
        Assert.Equal(0, Ioctl(p, fd, IommufdIoctl.IoasMap, IoasRig.MapCmd(ioas, IoasRig.FixedRw, Mem, 0x1000, 0x20000)));
        // Mapped bytes cannot be reserved over: EADDRINUSE.
        Assert.Equal(Neg(Errno.EADDRINUSE), Ioctl(p, fd, IommuTestCmd.Number, Cmd(IommuTestCmd.OpAddReserved, ioas, U64(IommuTestCmd.AddReservedStart, 0x20000), U64(IommuTestCmd.AddReservedLength, 0x1000))));
    }

    [Fact]
    public void CheckRefs_ChecksAlignmentAndMapping_ThenComparesEveryPagesPinCount()
    {
        var (p, fd, _) = Selftest();
        byte[] Refs(ulong uptr, ulong length, uint refs) =>
            Cmd(IommuTestCmd.OpMdCheckRefs, 0, U64(IommuTestCmd.CheckRefsLength, length), U64(IommuTestCmd.CheckRefsUptr, uptr), U32(IommuTestCmd.CheckRefsRefs, refs));
        Assert.Equal(Neg(Errno.EINVAL), Ioctl(p, fd, IommuTestCmd.Number, Refs(Mem + 1, 0x1000, 0)));
        Assert.Equal(Neg(Errno.EINVAL), Ioctl(p, fd, IommuTestCmd.Number, Refs(Mem, 0x800, 0)));
        Assert.Equal(Neg(Errno.EINVAL), Ioctl(p, fd, IommuTestCmd.Number, Refs(0xFFFF_FFFF_FFFF_F000, 0x2000, 0)));
        Assert.Equal(Neg(Errno.EFAULT), Ioctl(p, fd, IommuTestCmd.Number, Refs(0x7000_0000, 0x1000, 0)));
        Assert.Equal(0, Ioctl(p, fd, IommuTestCmd.Number, Refs(Mem, 0x4000, 0)));
        Assert.Equal(Neg(Errno.EIO), Ioctl(p, fd, IommuTestCmd.Number, Refs(Mem, 0x4000, 1)));
    }

    [Fact]
    public void CheckRefs_SeesThePinsOfADomain_FromAnotherIommufdToo_AndNoneAfterTheClose()
    {
        var k = HostKernel.Boot(BuiltInHosts.Find(BuiltInHosts.SelftestHost)!);
        var vmm = k.CreateProcess();
        const ulong Hva = 0x6000_0000_0000, Size = 1 << 20;
        var a = new DeviceAssignment(vmm, new AssignmentPlan("/dev/vfio/devices/vfio0", KvmVmType.X86SnpVm, IommuViommuAlloc.TypeArmRealmSmmuV3OrAmd, new(0, 0, 3, 0)), new GuestRam(vmm, Hva, Size));
        Assert.True(a.Prepare(), string.Join("\n", a.Steps.Select(s => $"{s.Call}: {s.ResultText}")));
        // A second /dev/iommu of the same process sees the guest RAM pinned once (the domain's pages).
        int other = vmm.Open("/dev/iommu");
        Assert.Equal(0, vmm.Memory.Map(Mem, 0x1000, Prot.ReadWrite));
        byte[] Refs(uint refs) => Cmd(IommuTestCmd.OpMdCheckRefs, 0, U64(IommuTestCmd.CheckRefsLength, Size), U64(IommuTestCmd.CheckRefsUptr, Hva), U32(IommuTestCmd.CheckRefsRefs, refs));
        Assert.Equal(0, Ioctl(vmm, other, IommuTestCmd.Number, Refs(1)));
        Assert.Equal(Neg(Errno.EIO), Ioctl(vmm, other, IommuTestCmd.Number, Refs(0)));
        // Closing the assignment's iommufd (and with it the domain) drops every pin.
        Assert.Equal(0, vmm.Close(a.VfioFd));
        Assert.Equal(0, vmm.Close(a.KvmVfioFd));
        Assert.Equal(0, vmm.Close(a.IommuFd));
        Assert.Equal(0, Ioctl(vmm, other, IommuTestCmd.Number, Refs(0)));
    }

    [Fact]
    public void EveryTableRow_FitsTheDispatchBuffer()
    {
        foreach (var profile in new[] { TsmAbiProfile.OpArch, TsmAbiProfile.Scope })
            foreach (bool selftest in new[] { false, true })
                Assert.All(IommufdIoctlTable.For(profile, selftest).Rows, r => Assert.True(r.Struct.Size <= IommufdDispatch.MaxStruct, r.Name));
    }
}
