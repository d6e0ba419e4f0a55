using TsmLab.Abi;
using TsmLab.Hosts;
using TsmLab.Kernel;
using TsmLab.Platforms.Cca;
using TsmLab.Platforms.Cca.Abi;
using TsmLab.Tdisp.Device;
using TsmLab.Tdisp.Wire;
using TsmLab.Vmm;

namespace TsmLab.Tests.Platforms.Cca;

public sealed class CcaHostDriverTests
{
    internal static (HostKernel Kernel, DeviceAssignment A, DeviceSecurityManager Dsm) Assigned(TsmAbiProfile profile = TsmAbiProfile.OpArch, bool bind = true, HostConfiguration? config = null)
    {
        var kernel = HostKernel.Boot(config ?? CcaHost.Configuration(profile));
        var a = new DeviceAssignment(kernel.CreateProcess(), new AssignmentPlan("/dev/vfio/devices/vfio0", KvmVmType.ArmRealm,
            IommuViommuAlloc.TypeArmRealmSmmuV3OrAmd, new TsmLab.Kernel.Pci.PciAddress(0, 0, 3, 0)));
        Assert.True(a.Prepare());
        if (bind) Assert.True(a.Bind());
        return (kernel, a, CcaHost.DeviceOf(kernel)!.Dsm);
    }

    [Fact]
    public void BuiltInHost_Cca_IsArmRealmWithTheLinkTsmConnectedAtBoot_AndIdeKeysProgrammed()
    {
        var c = BuiltInHosts.Find("cca")!;
        Assert.Equal(HostArch.Arm64, c.Arch);
        Assert.Contains(c.VmTypes, t => t.Arch == TvmArch.Cca && t.TypeBits == KvmVmType.ArmRealm);
        Assert.Same(HostIommu.ArmSmmuV3Realm, c.Iommu);
        var kernel = HostKernel.Boot(c);
        Assert.Equal("tsm0", kernel.Functions[0].ConnectedTsm!.Name);
        var dsm = CcaHost.DeviceOf(kernel)!.Dsm;
        Assert.True(dsm.IdeKeys.IsStreamReady(0));
    }

    [Theory]
    [InlineData(TsmAbiProfile.OpArch)]
    [InlineData(TsmAbiProfile.Scope)]
    public void Bind_LocksTheTdiThroughTdisp_AndUnbindStopsIt(TsmAbiProfile profile)
    {
        var (_, a, dsm) = Assigned(profile);
        Assert.Equal(TdiState.ConfigLocked, dsm.Interfaces[0].State);
        Assert.True(a.Discover());
        Assert.Equal(TdiState.ConfigLocked, a.Info!.Value.TdiState);
        Assert.True(a.Unbind());
        Assert.Equal(TdiState.ConfigUnlocked, dsm.Interfaces[0].State);
    }
}

public sealed class CcaLinkOpsTests
{
    [Fact]
    public void Connect_FunctionWithoutADoeMailbox_ReturnsEnodev_AndStaysUnconnected()
    {
        var c = CcaHost.Configuration(TsmAbiProfile.OpArch) with { Connects = [] };
        c = c with { Functions = c.Functions.Select(f => f with { Doe = null }).ToList() };
        var kernel = HostKernel.Boot(c);
        Assert.Equal(-(int)Errno.ENODEV, kernel.Tsm.Connect(kernel.Functions[0], "tsm0"));
        Assert.Null(kernel.Functions[0].ConnectedTsm);
    }

    [Fact]
    public void Connect_WhenTheRmmCannotProgramIdeKeys_ReturnsEio_AndStaysUnconnected()
    {
        var c = CcaHost.Configuration(TsmAbiProfile.OpArch, new TsmLab.Platforms.Cca.Firmware.RmmOptions { IdeStreamId = 9 }) with { Connects = [] };
        var kernel = HostKernel.Boot(c);
        Assert.Equal(-(int)Errno.EIO, kernel.Tsm.Connect(kernel.Functions[0], "tsm0"));
        Assert.Null(kernel.Functions[0].ConnectedTsm);
        // Nothing half-connected stays behind: a second attempt fails the same way, not with EBUSY.
        Assert.Equal(-(int)Errno.EIO, kernel.Tsm.Connect(kernel.Functions[0], "tsm0"));
    }

    [Fact]
    public void Disconnect_UnbindsAndStopsThePdev_ConnectAgainWorks()
    {
        var (kernel, a, dsm) = CcaHostDriverTests.Assigned();
        Assert.Equal(0, kernel.Tsm.Disconnect(kernel.Functions[0], "tsm0"));
        Assert.Equal(TdiState.ConfigUnlocked, dsm.Interfaces[0].State);
        var rmm = CcaHost.LinkTsmOf(kernel)!.Rmm;
        Assert.True(rmm.RmiLog.Contains(Rmi.PdevStop));
        Assert.True(rmm.RmiLog.Contains(Rmi.PdevDestroy));
        Assert.Equal(0, kernel.Tsm.Connect(kernel.Functions[0], "tsm0"));
        Assert.True(a.Bind());
    }

    [Fact]
    public void Bind_ForAVmThatIsNotARealm_ReturnsEinval()
    {
        var kernel = HostKernel.Boot(CcaHost.Configuration());
        var a = new DeviceAssignment(kernel.CreateProcess(), new AssignmentPlan("/dev/vfio/devices/vfio0", 0,
            IommuViommuAlloc.TypeArmRealmSmmuV3OrAmd, new TsmLab.Kernel.Pci.PciAddress(0, 0, 3, 0)));
        Assert.True(a.Prepare());
        Assert.False(a.Bind());
        Assert.Equal(-(long)Errno.EINVAL, a.Steps[^1].Result);
    }

    [Fact]
    public void Bind_AVirtualFunction_LocksThatTdiOnly()
    {
        var kernel = HostKernel.Boot(CcaHost.Configuration());
        var a = new DeviceAssignment(kernel.CreateProcess(), new AssignmentPlan("/dev/vfio/devices/vfio2", KvmVmType.ArmRealm,
            IommuViommuAlloc.TypeArmRealmSmmuV3OrAmd, new TsmLab.Kernel.Pci.PciAddress(0, 0, 4, 0)));
        Assert.True(a.Prepare());
        Assert.True(a.Bind());
        var dsm = CcaHost.DeviceOf(kernel)!.Dsm;
        Assert.Equal(TdiState.ConfigUnlocked, dsm.Interfaces[0].State);
        Assert.Equal(TdiState.ConfigLocked, dsm.Interfaces[2].State);
    }
}

/// <summary>The RMM's call log stays bounded however long the host runs.</summary>
public sealed class RmiCallLogTests
{
    [Fact]
    public void TheLog_CountsEveryCall_AndKeepsOnlyTheLatest()
    {
        var log = new TsmLab.Platforms.Cca.Firmware.RmiCallLog();
        for (ulong i = 0; i < 10_000; i++) log.Add(i);
        Assert.Equal(10_000, log.Count);
        Assert.Equal([9_997ul, 9_998ul, 9_999ul], log.Since(9_997));
        Assert.Equal(TsmLab.Platforms.Cca.Firmware.RmiCallLog.Capacity, log.Since(0).Count);
        Assert.Equal(10_000ul - TsmLab.Platforms.Cca.Firmware.RmiCallLog.Capacity, log.Since(0)[0]);
        Assert.Empty(log.Since(10_000));
        Assert.True(log.Contains(9_999));
        Assert.False(log.Contains(5));
    }
}
