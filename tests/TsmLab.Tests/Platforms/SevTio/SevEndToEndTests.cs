using TsmLab.Platforms.SevTio.Guest;
using TsmLab.Tdisp.Wire;
using TsmLab.Platforms.SevTio.Abi;

namespace TsmLab.Tests.Platforms.SevTio;

public sealed class SevEndToEndTests
{
    [Fact]
    public void SnpGuest_FromCreateVmToDmaEnabledAndBack_InOpArchProfile()
    {
        var rig = new SevRig();
        var g = rig.Guest;
        Assert.Equal(TsmLab.Abi.TsmAbiProfile.OpArch, rig.Kernel.Configuration.Profile);

        Assert.Equal(GuestOutcome.Ok, g.Lock().Outcome);
        Assert.Equal((ulong)SevRig.GuestAddress.GuestRid, g.TdiId);
        Assert.Equal(TdiState.ConfigLocked, g.Evidence!.TdispState);
        Assert.Equal(TdiState.ConfigLocked, rig.Kernel.Tsm.StateOf(rig.Function));
        Assert.True(g.Evidence.Certificates.Length > 500);
        Assert.Equal(TdiInfoMessage.MeasDigestValid | TdiInfoMessage.MeasDigestFresh, g.Evidence.MeasFlags);
        Assert.NotEmpty(g.Evidence.Ranges);

        Assert.Equal(GuestOutcome.Ok, g.Accept().Outcome);
        Assert.Equal(TdiState.Run, rig.Kernel.Tsm.StateOf(rig.Function));
        int teePages = g.Evidence.Ranges.Where(r => (r.Attributes & MmioRangeAttributes.IsNonTeeMem) == 0).Sum(r => (int)r.NumberOfPages);
        Assert.Equal(teePages, rig.Tsm.Rmp.CountValidated(rig.Asid));

        Assert.False(rig.Tsm.Iommu.SecureDmaEnabled(SevRig.FunctionId));
        Assert.Equal(GuestOutcome.Ok, g.EnableDma().Outcome);
        Assert.True(rig.Tsm.Iommu.SecureDmaEnabled(SevRig.FunctionId));

        Assert.Equal(GuestOutcome.Ok, g.RefreshMeasurements().Outcome);

        Assert.Equal(GuestOutcome.Ok, g.Unlock().Outcome);
        Assert.False(rig.Tsm.Iommu.SecureDmaEnabled(SevRig.FunctionId));
        Assert.Equal(0, rig.Tsm.Rmp.CountValidated(rig.Asid));
        Assert.Null(rig.Function.Tdi);
        Assert.Equal(TdiState.ConfigUnlocked, rig.Kernel.Tsm.StateOf(rig.Function));
        var dsm = rig.Device;
        Assert.Equal(TdiState.ConfigUnlocked, dsm.Interfaces[0].State);
    }

    [Fact]
    public void VirtualFunction_IsAssigned_Accepted_AndReleased_LeavingThePfAlone()
    {
        var rig = new SevRig(vfio: 1);
        rig.Accepted();
        Assert.True(rig.Tsm.Iommu.SecureDmaEnabled(0x0101));
        Assert.False(rig.Tsm.Iommu.SecureDmaEnabled(SevRig.FunctionId));
        var dsm = rig.Device;
        Assert.Equal(TdiState.Run, dsm.Interfaces[1].State);
        Assert.Equal(TdiState.ConfigUnlocked, dsm.Interfaces[0].State);
        Assert.All(rig.Guest.Evidence!.Ranges, r => Assert.True(r.FirstPage >= 0xF100_0000));
        Assert.Equal(GuestOutcome.Ok, rig.Guest.Unlock().Outcome);
        Assert.Equal(TdiState.ConfigUnlocked, dsm.Interfaces[1].State);
        Assert.Equal(0, rig.Tsm.Rmp.CountValidated(rig.Asid));
    }
}
