using TsmLab.Abi;
using TsmLab.Tdisp.Wire;
using TsmLab.Kernel.Iommufd;
using TsmLab.Kernel.Tsm;
using TsmLab.Kernel;
using static TsmLab.Tests.Kernel.Raw;
using System.Buffers.Binary;

namespace TsmLab.Tests.Kernel.Iommufd;

/// <summary>IOMMU_VDEVICE_TSM_REQ in the scope profile (docs/errno.md "TSM_REQ scope").</summary>
public class TsmReqScopeTests
{
    private static TestRig Rig(bool bind = true) => TestHosts.Assigned(TvmArch.Cca, TsmAbiProfile.Scope, bind: bind);

    private static byte[] ReadState => BitConverter.GetBytes(1u);
    private static byte[] SetState(uint s) => [.. BitConverter.GetBytes(2u), .. BitConverter.GetBytes(s)];
    private static Vdevice Vdev(TestRig r) => r.Kernel.IommufdContexts.Single().Get<Vdevice>(r.Vdev)!;

    [Fact]
    public void InfoPayload_WithInfoScope_IsServed_WithResidue()
    {
        var r = Rig();
        Assert.Equal(4, r.Calls.TsmRequestScoped(r.IommuFd, r.Vdev, TsmReqScope.PciInfo, ReadState, 8, out var resp));
        Assert.Equal((uint)TdiState.ConfigUnlocked, BinaryPrimitives.ReadUInt32LittleEndian(resp));
    }

    [Fact]
    public void StateChangePayload_WithStateChangeScope_ChangesState()
    {
        var r = Rig();
        Assert.Equal(0, r.Calls.TsmRequestScoped(r.IommuFd, r.Vdev, TsmReqScope.PciStateChange, SetState(1), 0, out _));
        Assert.Equal(TdiState.ConfigLocked, r.Kernel.Tsm.StateOf(r.Function));
    }

    [Fact]
    public void WrongScope_ReturnsEinval_AndFirmwareIsNeverCalled()
    {
        var r = Rig();
        Assert.Equal(Neg(Errno.EINVAL), r.Calls.TsmRequestScoped(r.IommuFd, r.Vdev, TsmReqScope.PciInfo, SetState(2), 0, out _));
        Assert.Equal(Neg(Errno.EINVAL), r.Calls.TsmRequestScoped(r.IommuFd, r.Vdev, TsmReqScope.PciStateChange, ReadState, 4, out _));
        Assert.Equal(0, r.Platform.Requests);
        Assert.Equal(TdiState.ConfigUnlocked, r.Kernel.Tsm.StateOf(r.Function));
        Assert.Equal(2, Vdev(r).Rejections(TsmRejection.ScopeMismatch));
    }

    [Theory]
    [InlineData(TsmReqScope.PciDebugRead)]
    [InlineData(TsmReqScope.PciDebugWrite)]
    public void DebugScopes_ReturnEinval(TsmReqScope scope)
    {
        var r = Rig();
        Assert.Equal(Neg(Errno.EINVAL), r.Calls.TsmRequestScoped(r.IommuFd, r.Vdev, scope, ReadState, 4, out _));
        Assert.Equal(1, Vdev(r).Rejections(TsmRejection.DebugScope));
        Assert.Equal(0, r.Platform.Requests);
    }

    [Fact]
    public void ScopeAboveLast_ReturnsEinval_BeforeLookup()
    {
        var r = Rig();
        var s = Struct(40, U32(4, 999), U32(8, 4));
        Assert.Equal(Neg(Errno.EINVAL), Ioctl(r.Vmm, r.IommuFd, IommufdIoctl.VdeviceTsmReq, s));
    }

    [Fact]
    public void ReservedNonZero_ReturnsEopnotsupp_BeforeScopeCheck()
    {
        var r = Rig();
        var s = Struct(40, U32(4, r.Vdev), U32(8, 9), U32(20, 1));
        Assert.Equal(Neg(Errno.EOPNOTSUPP), Ioctl(r.Vmm, r.IommuFd, IommufdIoctl.VdeviceTsmReq, s));
        Assert.Equal(1, Vdev(r).Rejections(TsmRejection.ReservedNotZero));
    }

    [Fact]
    public void UnknownVdevice_ReturnsEnoent()
    {
        var r = Rig();
        Assert.Equal(Neg(Errno.ENOENT), Ioctl(r.Vmm, r.IommuFd, IommufdIoctl.VdeviceTsmReq, Struct(40, U32(4, 77))));
    }

    [Fact]
    public void PayloadThePlatformCannotClassify_ReturnsEinval()
    {
        var r = Rig();
        Assert.Equal(Neg(Errno.EINVAL), r.Calls.TsmRequestScoped(r.IommuFd, r.Vdev, TsmReqScope.PciInfo, BitConverter.GetBytes(7u), 4, out _));
        Assert.Equal(1, Vdev(r).Rejections(TsmRejection.PlatformRejected));
    }

    [Fact]
    public void NotBound_ReturnsEnxio()
    {
        var r = Rig(bind: false);
        Assert.Equal(Neg(Errno.ENXIO), r.Calls.TsmRequestScoped(r.IommuFd, r.Vdev, TsmReqScope.PciInfo, ReadState, 4, out _));
    }

    [Fact]
    public void NonConfidentialVm_ReturnsEinval()
    {
        var r = TestHosts.Assigned(TvmArch.Cca, TsmAbiProfile.Scope, bind: false, vmType: 0);
        Assert.Equal(Neg(Errno.EINVAL), r.Calls.TsmRequestScoped(r.IommuFd, r.Vdev, TsmReqScope.PciInfo, ReadState, 4, out _));
        Assert.Equal(1, Vdev(r).Rejections(TsmRejection.ArchNotVm));
    }

    [Fact]
    public void NoCopyBack_InScopeProfile()
    {
        var r = Rig();
        MapBuffer(r.Vmm);
        r.Vmm.Memory.CopyToUser(Buf + 4096, SetState(1));
        r.Vmm.Memory.CopyToUser(Buf, Struct(40, U32(4, r.Vdev), U32(8, 1), U32(12, 8), U64(24, Buf + 4096)));
        r.Vmm.Memory.Protect(Buf, 4096, Prot.Read);
        Assert.Equal(0, r.Vmm.Ioctl(r.IommuFd, IommufdIoctl.VdeviceTsmReq, Buf));
    }
}
