using System.Buffers.Binary;
using TsmLab.Abi;
using TsmLab.Kernel;
using static TsmLab.Tests.Kernel.Raw;

namespace TsmLab.Tests.Kernel.Iommufd;

/// <summary>IOMMU_OPTION and IOMMU_GET_HW_INFO (docs/errno.md).</summary>
public class OptionAndHwInfoTests
{
    private const ulong Mem = IoasRig.Mem;
    private const uint FixedRw = IoasRig.FixedRw;

    private static long Option(IoasRig r, uint option, ushort op, uint objectId, ulong val, out ulong got, ushort reserved = 0)
    {
        var s = Struct(IommuOption.SizeOf, U32(IommuOption.OptionId, option), U32(IommuOption.ObjectId, objectId), U64(IommuOption.Val64, val));
        BinaryPrimitives.WriteUInt16LittleEndian(s.AsSpan(IommuOption.Op), op);
        BinaryPrimitives.WriteUInt16LittleEndian(s.AsSpan(IommuOption.Reserved), reserved);
        long rc = Ioctl(r.P, r.Fd, IommufdIoctl.Option, s);
        got = BinaryPrimitives.ReadUInt64LittleEndian(Read(r.P, IommuOption.SizeOf).AsSpan(IommuOption.Val64));
        return rc;
    }

    /// <summary>A process with /dev/iommu open and nothing in it.</summary>
    private static IoasRig Empty()
    {
        var (k, _) = TestHosts.Boot(TvmArch.Sev, connect: false);
        var p = k.CreateProcess();
        return new IoasRig { Kernel = k, P = p, Fd = p.Open("/dev/iommu"), Ioas = 0 };
    }

    [Fact]
    public void Option_ReservedNonZero_ReturnsEopnotsupp()
    {
        var r = Empty();
        Assert.Equal(Neg(Errno.EOPNOTSUPP), Option(r, IommuOption.RlimitMode, IommuOption.OpGet, 0, 0, out _, reserved: 1));
    }

    [Fact]
    public void Option_UnknownOptionOrOp_ReturnsEopnotsupp()
    {
        var r = IoasRig.Bare();
        Assert.Equal(Neg(Errno.EOPNOTSUPP), Option(r, 2, IommuOption.OpGet, 0, 0, out _));
        Assert.Equal(Neg(Errno.EOPNOTSUPP), Option(r, IommuOption.RlimitMode, 2, 0, 0, out _));
        Assert.Equal(Neg(Errno.EOPNOTSUPP), Option(r, IommuOption.HugePages, 2, r.Ioas, 0, out _));
    }

    [Fact]
    public void RlimitMode_WithObjectId_ReturnsEopnotsupp()
    {
        var r = Empty();
        Assert.Equal(Neg(Errno.EOPNOTSUPP), Option(r, IommuOption.RlimitMode, IommuOption.OpGet, 1, 0, out _));
    }

    [Fact]
    public void RlimitMode_Get_IsZero_PerUser_ByDefault_AndOnlyVal64IsWritten()
    {
        var r = Empty();
        Assert.Equal(0, Option(r, IommuOption.RlimitMode, IommuOption.OpGet, 0, 0xFFFF, out ulong v));
        Assert.Equal(0ul, v);
    }

    [Fact]
    public void RlimitMode_SetWithoutCapSysResource_ReturnsEperm()
    {
        var r = Empty();
        Assert.Equal(Neg(Errno.EPERM), Option(r, IommuOption.RlimitMode, IommuOption.OpSet, 0, 1, out _));
    }

    [Fact]
    public void RlimitMode_SetWithObjects_ReturnsEbusy_BadValue_ReturnsEinval()
    {
        var r = Empty();
        r.P.Limits.CapSysResource = true;
        Assert.Equal(Neg(Errno.EINVAL), Option(r, IommuOption.RlimitMode, IommuOption.OpSet, 0, 2, out _));
        IoasRig.NewIoas(r.P, r.Fd);
        Assert.Equal(Neg(Errno.EBUSY), Option(r, IommuOption.RlimitMode, IommuOption.OpSet, 0, 1, out _));
    }

    [Fact]
    public void RlimitMode_SetToOne_IsReadBack_AndPinsChargeTheMm_NotTheUser()
    {
        var r = Empty();
        r.P.Limits.CapSysResource = true;
        Assert.Equal(0, Option(r, IommuOption.RlimitMode, IommuOption.OpSet, 0, 1, out _));
        Assert.Equal(0, Option(r, IommuOption.RlimitMode, IommuOption.OpGet, 0, 0, out ulong v));
        Assert.Equal(1ul, v);

        // The assignment's context (it has a domain), switched the same way while it was empty.
        var d = IoasRig.WithDomain();
        d.Kernel.IommufdContexts.Single().AccountPerProcess = true;
        d.P.Limits.MemlockLimit = 0x2000;
        Assert.Equal(0, d.Map(FixedRw, Mem, 0x2000, 0x10000));
        Assert.Equal((0L, 2L, 2L), (d.Kernel.UserLockedMemory.LockedPages, d.P.Limits.LockedPages, d.P.Limits.PinnedPages));
        Assert.Equal(Neg(Errno.ENOMEM), d.Map(FixedRw, Mem, 0x1000, 0x20000));
    }

    [Fact]
    public void HugePages_UnknownIoas_ReturnsEnoent()
    {
        var r = Empty();
        Assert.Equal(Neg(Errno.ENOENT), Option(r, IommuOption.HugePages, IommuOption.OpGet, 7, 0, out _));
    }

    [Fact]
    public void HugePages_GetSet_ChangesTheAlignment()
    {
        var r = IoasRig.Bare();
        Assert.Equal(0, Option(r, IommuOption.HugePages, IommuOption.OpGet, r.Ioas, 0, out ulong v));
        Assert.Equal(1ul, v);
        Assert.Equal(0, Option(r, IommuOption.HugePages, IommuOption.OpSet, r.Ioas, 0, out _));
        Assert.Equal(4096ul, r.Object.Iopt.IovaAlignment);
        Assert.Equal(0, Option(r, IommuOption.HugePages, IommuOption.OpGet, r.Ioas, 7, out v));
        Assert.Equal(0ul, v);
        Assert.Equal(0, Option(r, IommuOption.HugePages, IommuOption.OpSet, r.Ioas, 1, out _));
        Assert.Equal(1ul, r.Object.Iopt.IovaAlignment);
        Assert.Equal(Neg(Errno.EINVAL), Option(r, IommuOption.HugePages, IommuOption.OpSet, r.Ioas, 2, out _));
    }

    [Fact]
    public void HugePages_DisableWithDomainAndMappings_ReturnsEinval()
    {
        var r = IoasRig.WithDomain();
        Assert.Equal(0, r.Map(FixedRw, Mem, 0x1000, 0x10000));
        Assert.Equal(Neg(Errno.EINVAL), Option(r, IommuOption.HugePages, IommuOption.OpSet, r.Ioas, 0, out _));
    }

    [Fact]
    public void HugePages_DisableOverAnUnalignedMapping_ReturnsEaddrinuse()
    {
        var r = IoasRig.Bare();
        Assert.Equal(0, r.Map(FixedRw, Mem, 0x800, 0x10000));
        Assert.Equal(Neg(Errno.EADDRINUSE), Option(r, IommuOption.HugePages, IommuOption.OpSet, r.Ioas, 0, out _));
        Assert.False(r.Object.Iopt.LargePagesDisabled);
    }

    [Fact]
    public void Option_Val64CopyBackFault_ReturnsEfault()
    {
        var r = Empty();
        MapBuffer(r.P);
        var s = Struct(IommuOption.SizeOf);
        BinaryPrimitives.WriteUInt16LittleEndian(s.AsSpan(IommuOption.Op), IommuOption.OpGet);
        r.P.Memory.CopyToUser(Buf, s);
        r.P.Memory.Protect(Buf, 4096, Prot.Read);
        Assert.Equal(Neg(Errno.EFAULT), r.P.Ioctl(r.Fd, IommufdIoctl.Option, Buf));
    }

    // ---- GET_HW_INFO

    private static long HwInfo(TestRig t, uint flags, uint devId, uint dataLen, ulong data, uint type, out byte[] answer, byte reserved = 0)
    {
        var s = Struct(IommuHwInfo.SizeOf, U32(IommuHwInfo.Flags, flags), U32(IommuHwInfo.DevId, devId), U32(IommuHwInfo.DataLen, dataLen),
            U64(IommuHwInfo.DataUptr, data), U32(IommuHwInfo.DataType, type));
        s[IommuHwInfo.Reserved + 2] = reserved;
        long rc = Ioctl(t.Vmm, t.IommuFd, IommufdIoctl.GetHwInfo, s);
        answer = Read(t.Vmm, IommuHwInfo.SizeOf);
        return rc;
    }

    [Fact]
    public void HwInfo_UnknownFlagOrReserved_ReturnsEopnotsupp()
    {
        var t = TestHosts.Assigned(TvmArch.Sev, bind: false);
        Assert.Equal(Neg(Errno.EOPNOTSUPP), HwInfo(t, 2, t.Assignment.DevId, 0, 0, 0, out _));
        Assert.Equal(Neg(Errno.EOPNOTSUPP), HwInfo(t, 0, t.Assignment.DevId, 0, 0, 0, out _, reserved: 1));
    }

    [Fact]
    public void HwInfo_DevIdNotADevice_ReturnsEnoent()
    {
        var t = TestHosts.Assigned(TvmArch.Sev, bind: false);
        Assert.Equal(Neg(Errno.ENOENT), HwInfo(t, 0, t.Assignment.IoasId, 0, 0, 0, out _));
    }

    [Fact]
    public void HwInfo_InputTypeTheIommuDoesNotReport_ReturnsEopnotsupp_TypeIgnoredWithoutTheFlag()
    {
        var t = TestHosts.Assigned(TvmArch.Sev, bind: false);
        Assert.Equal(Neg(Errno.EOPNOTSUPP), HwInfo(t, IommuHwInfo.FlagInputType, t.Assignment.DevId, 0, 0, IommuHwInfo.TypeArmSmmuV3, out _));
        Assert.Equal(0, HwInfo(t, 0, t.Assignment.DevId, 0, 0, IommuHwInfo.TypeArmSmmuV3, out var a));
        Assert.Equal(IommuHwInfo.TypeAmd, BinaryPrimitives.ReadUInt32LittleEndian(a.AsSpan(IommuHwInfo.DataType)));
        Assert.Equal(0, HwInfo(t, IommuHwInfo.FlagInputType, t.Assignment.DevId, 0, 0, IommuHwInfo.TypeAmd, out _));
    }

    [Theory]
    [InlineData(TvmArch.Sev, IommuHwInfo.TypeAmd, 16)]
    [InlineData(TvmArch.Cca, IommuHwInfo.TypeArmSmmuV3, 40)]
    public void HwInfo_ReturnsTheHostIommusTypeAndData_ZeroFillingTheRest(TvmArch arch, uint type, int length)
    {
        var t = TestHosts.Assigned(arch, bind: false);
        MapBuffer(t.Vmm);
        const ulong data = Buf + 0x1000;
        t.Vmm.Memory.CopyToUser(data, Enumerable.Repeat((byte)0xAA, 64).ToArray());
        Assert.Equal(0, HwInfo(t, 0, t.Assignment.DevId, 64, data, 0, out var a));
        Assert.Equal(type, BinaryPrimitives.ReadUInt32LittleEndian(a.AsSpan(IommuHwInfo.DataType)));
        Assert.Equal((uint)length, BinaryPrimitives.ReadUInt32LittleEndian(a.AsSpan(IommuHwInfo.DataLen)));
        Assert.Equal(0ul, BinaryPrimitives.ReadUInt64LittleEndian(a.AsSpan(IommuHwInfo.OutCapabilities)));
        var got = Read(t.Vmm, 64, data);
        Assert.Equal(t.Kernel.Configuration.Iommu.HwInfo, got[..length]);
        Assert.All(got[length..], b => Assert.Equal(0, b));
    }

    [Fact]
    public void HwInfo_ShortBuffer_GetsThePrefix_AndTheKernelsLength()
    {
        var t = TestHosts.Assigned(TvmArch.Sev, bind: false);
        MapBuffer(t.Vmm);
        Assert.Equal(0, HwInfo(t, 0, t.Assignment.DevId, 4, Buf + 0x1000, 0, out var a));
        Assert.Equal(16u, BinaryPrimitives.ReadUInt32LittleEndian(a.AsSpan(IommuHwInfo.DataLen)));
    }

    [Fact]
    public void HwInfo_HugeDataLen_ZeroFillsWithoutAllocatingTheCallersPages()
    {
        var t = TestHosts.Assigned(TvmArch.Sev, bind: false);
        const ulong big = 0x3000_0000_0000;
        Assert.Equal(0, t.Vmm.Memory.Map(big, 1ul << 32, Prot.ReadWrite));
        int before = t.Vmm.Memory.ResidentPages; // then: the ioctl struct's page and the 16 data bytes' page
        Assert.Equal(0, HwInfo(t, 0, t.Assignment.DevId, uint.MaxValue, big, 0, out _));
        Assert.True(t.Vmm.Memory.ResidentPages <= before + 2, $"{t.Vmm.Memory.ResidentPages - before} pages allocated");
    }

    [Fact]
    public void HwInfo_DataBufferFaults_ReturnsEfault()
    {
        var t = TestHosts.Assigned(TvmArch.Sev, bind: false);
        Assert.Equal(Neg(Errno.EFAULT), HwInfo(t, 0, t.Assignment.DevId, 16, 0xdead_0000, 0, out _));
        Assert.Equal(Neg(Errno.EFAULT), HwInfo(t, 0, t.Assignment.DevId, 0x2000, Buf + 0x3000, 0, out _)); // zero-fill runs off the mapping
    }
}
