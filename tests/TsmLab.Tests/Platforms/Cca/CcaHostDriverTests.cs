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
    internal static (HostKernel Kernel, DeviceAssignment A, DeviceSecurityManager Dsm) Assigned(TsmAbiProfile profile = TsmAbiProfile.OpArch, bool bind = true)
    {
        var kernel = HostKernel.Boot(CcaHost.Configuration(profile));
        var a = new DeviceAssignment(kernel.CreateProcess(), new AssignmentPlan("/dev/vfio/devices/vfio0", KvmVmType.ArmRealm,
            IommuViommuAlloc.TypeArmRealmSmmuV3OrAmd, new TsmLab.Kernel.Pci.PciAddress(0, 0, 3, 0)));
        Assert.True(a.Prepare());
        if (bind) Assert.True(a.Bind());
        return (kernel, a, (DeviceSecurityManager)kernel.Functions[0].DeviceModel!);
    }

    [Fact]
    public void BuiltInHost_Cca_IsArmRealmWithTheLinkTsmConnectedAtBoot_AndIdeKeysProgrammed()
    {
        var c = BuiltInHosts.Find("cca")!;
        Assert.Equal(HostArch.Arm64, c.Arch);
        Assert.True(c.Rmm);
        Assert.Same(HostIommu.ArmSmmuV3Realm, c.Iommu);
        var kernel = HostKernel.Boot(c);
        Assert.Equal("tsm0", kernel.Functions[0].ConnectedTsm!.Name);
        var dsm = (DeviceSecurityManager)kernel.Functions[0].DeviceModel!;
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
