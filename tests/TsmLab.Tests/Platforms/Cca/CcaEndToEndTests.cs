using TsmLab.Abi;
using TsmLab.Platforms.Cca;
using TsmLab.Tdisp.Wire;

namespace TsmLab.Tests.Platforms.Cca;

public sealed class CcaEndToEndTests
{
    [Theory]
    [InlineData(TsmAbiProfile.OpArch)]
    [InlineData(TsmAbiProfile.Scope)]
    public void RealmFlow_FromCreateVmToDmaEnabled_AndBackToUnlocked(TsmAbiProfile profile)
    {
        var s = CcaRealmSession.Start(profile);
        var g = s.Guest;
        Assert.True(g.Lock(), g.Failure + "\n" + string.Join("\n", s.Vmm.Log));
        Assert.Equal(TdiState.ConfigLocked, s.Device.Interfaces[0].State);
        Assert.True(g.Accept(), g.Failure);
        Assert.Equal(TdiState.Run, s.Device.Interfaces[0].State);
        Assert.True(g.DmaEnabled);
        Assert.True(g.Unlock(), g.Failure);
        Assert.Equal(TdiState.ConfigUnlocked, s.Device.Interfaces[0].State);
    }
}
