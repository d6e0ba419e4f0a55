using TsmLab.Abi;
using TsmLab.Tdisp.Wire;
using TsmLab.Kernel;
using static TsmLab.Tests.Kernel.Raw;

namespace TsmLab.Tests.Kernel.Iommufd;

/// <summary>IOMMU_VDEVICE_TSM_INFO: discovery (docs/abi.md, docs/errno.md "TSM_INFO").</summary>
public class TsmInfoTests
{
    [Fact]
    public void Bound_Cca_ReportsTsmArchStateAndCcaOps()
    {
        var r = TestHosts.Assigned(TvmArch.Cca);
        Assert.Equal(0, r.Calls.TsmInfo(r.IommuFd, r.Vdev, out var i));
        Assert.Equal("tsm0", i.TsmName);
        Assert.Equal(TvmArch.Cca, i.TvmArch);
        Assert.Equal(IommuVdeviceTsmInfo.BusPci, i.Bus);
        Assert.True(i.Connected);
        Assert.True(i.Bound);
        Assert.Equal(TdiState.ConfigUnlocked, i.TdiState);
        Assert.Equal((1ul << 1) | (1ul << 2) | (1ul << 5) | (1ul << 7), i.SupportedOps);
        Assert.Equal(64u, i.MaxRequestLength);
        Assert.Equal(4096u, i.MaxResponseLength);
        Assert.Equal(0u, i.ScopeMask);
    }

    [Fact]
    public void Sev_ReportsSevPrivateOpsOnly()
    {
        var r = TestHosts.Assigned(TvmArch.Sev);
        Assert.Equal(0, r.Calls.TsmInfo(r.IommuFd, r.Vdev, out var i));
        Assert.True(i.Supports(TsmReqOp.SevEnableDma));
        Assert.False(i.Supports(TsmReqOp.ReadObject));
    }

    [Fact]
    public void TdiState_FollowsTheTsm()
    {
        var r = TestHosts.Assigned(TvmArch.Cca);
        r.Calls.TsmRequest(r.IommuFd, r.Vdev, TsmReqOp.SetTdiState, TvmArch.Cca, BitConverter.GetBytes(2u), 0, out _, out _);
        Assert.Equal(0, r.Calls.TsmInfo(r.IommuFd, r.Vdev, out var i));
        Assert.Equal(TdiState.Run, i.TdiState);
    }

    [Fact]
    public void NotConnected_ReportsNoTsmAndNoOps()
    {
        var r = TestHosts.Assigned(TvmArch.Sev, connect: false, bind: false);
        Assert.Equal(0, r.Calls.TsmInfo(r.IommuFd, r.Vdev, out var i));
        Assert.Null(i.TsmName);
        Assert.False(i.Connected);
        Assert.False(i.Bound);
        Assert.Equal(0ul, i.SupportedOps);
        Assert.Equal(TvmArch.Sev, i.TvmArch);
    }

    [Fact]
    public void ScopeProfile_ReportsScopeMaskAndFlag()
    {
        var r = TestHosts.Assigned(TvmArch.Cca, TsmAbiProfile.Scope);
        Assert.Equal(0, r.Calls.TsmInfo(r.IommuFd, r.Vdev, out var i));
        Assert.Equal(0b11u, i.ScopeMask);
        Assert.Equal(0ul, i.SupportedOps);
        Assert.NotEqual(0u, i.Flags & IommuVdeviceTsmInfo.FlagScopeProfile);
    }

    [Fact]
    public void Rejections_AreCounted()
    {
        var r = TestHosts.Assigned(TvmArch.Cca);
        r.Calls.TsmRequest(r.IommuFd, r.Vdev, TsmReqOp.SetTdiState, TvmArch.Sev, new byte[4], 0, out _, out _);
        r.Calls.TsmRequest(r.IommuFd, r.Vdev, TsmReqOp.SevEnableDma, TvmArch.Cca, new byte[8], 0, out _, out _);
        Assert.Equal(0, r.Calls.TsmInfo(r.IommuFd, r.Vdev, out var i));
        Assert.Equal(2u, i.Rejections);
    }

    [Fact]
    public void Flags_ReturnsEopnotsupp()
    {
        var r = TestHosts.Assigned(TvmArch.Cca);
        Assert.Equal(Neg(Errno.EOPNOTSUPP), Ioctl(r.Vmm, r.IommuFd, IommufdIoctl.VdeviceTsmInfo, Struct(56, U32(4, r.Vdev), U32(8, 1))));
    }

    [Fact]
    public void UnknownVdevice_ReturnsEnoent()
    {
        var r = TestHosts.Assigned(TvmArch.Cca);
        Assert.Equal(Neg(Errno.ENOENT), Ioctl(r.Vmm, r.IommuFd, IommufdIoctl.VdeviceTsmInfo, Struct(56, U32(4, r.Assignment.IoasId))));
    }

    [Fact]
    public void ShortStruct_BelowMinimum_ReturnsEinval()
    {
        var r = TestHosts.Assigned(TvmArch.Cca);
        Assert.Equal(Neg(Errno.EINVAL), Ioctl(r.Vmm, r.IommuFd, IommufdIoctl.VdeviceTsmInfo, Struct(52, U32(4, r.Vdev))));
    }

    [Fact]
    public void CopyBackFault_ReturnsEfault()
    {
        var r = TestHosts.Assigned(TvmArch.Cca);
        MapBuffer(r.Vmm);
        r.Vmm.Memory.CopyToUser(Buf, Struct(56, U32(4, r.Vdev)));
        r.Vmm.Memory.Protect(Buf, 4096, Prot.Read);
        Assert.Equal(Neg(Errno.EFAULT), r.Vmm.Ioctl(r.IommuFd, IommufdIoctl.VdeviceTsmInfo, Buf));
    }
}
