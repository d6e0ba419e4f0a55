using TsmLab.Kernel;
using TsmLab.Kernel.Pci;
using TsmLab.Tdisp.Device;
using TsmLab.Tdisp.Wire;

namespace TsmLab.Tests.Kernel.Pci;

/// <summary>Configuration space as hardware behaves [P1]: IDs, BAR sizing by writing all ones, capability walks, and enumeration.</summary>
public sealed class PciConfigSpaceTests
{
    private static PciConfigSpace Pf() => PciConfigSpace.Endpoint(0xABCD, 0x0001, 0x120000,
        [new PciBarSpec(0, 0xF000_0000, 0x10_0000, true, false), new PciBarSpec(2, 0x40_0000_0000, 0x100_0000, true, true)],
        new PciSriovSpec(4, 1, 1, 0x0002, [new PciBarSpec(0, 0xF100_0000, 0x4000, true, false)]), doe: true);

    [Fact]
    public void Ids_ClassAndCapabilityList_ReadAsWritten()
    {
        var c = Pf();
        Assert.Equal(0xABCDu, c.Read(PciConfigSpace.VendorIdOffset, 2));
        Assert.Equal(0x0001u, c.Read(PciConfigSpace.DeviceIdOffset, 2));
        Assert.Equal(0x12u, c.Read(PciConfigSpace.ClassCodeOffset + 2, 1));
        Assert.Equal(0x40, c.FindCapability(PciConfigSpace.PciExpressCapabilityId));
        Assert.Equal(0x100, c.FindExtendedCapability(PciConfigSpace.SriovExtendedCapabilityId));
        Assert.True(c.FindExtendedCapability(PciConfigSpace.DoeExtendedCapabilityId) > 0x100);
        Assert.Equal(0, c.FindExtendedCapability(0x0023));
        Assert.Equal(uint.MaxValue, c.Read32(PciConfigSpace.Size)); // outside the space reads as a master abort
    }

    [Fact]
    public void BarSizing_WritingAllOnes_ReadsBackTheSizeMask_AndTheAddressBitsBelowItStayZero()
    {
        var c = Pf();
        Assert.Equal(0xF000_0004u, c.Read32(0x10)); // 64-bit memory BAR, not prefetchable
        c.Write32(0x10, uint.MaxValue);
        Assert.Equal(0xFFF0_0000u, c.Read32(0x10) & 0xFFFF_FFF0u); // 1 MiB
        c.Write32(0x10, 0xF000_0000);
        Assert.Equal(0xF000_0004u, c.Read32(0x10));
        c.Write32(0x10, 0xF001_2340);
        Assert.Equal(0xF000_0004u, c.Read32(0x10)); // bits below the size are hard-wired to zero
        c.Write32(0x00, 0x1234_5678);
        Assert.Equal(0xABCDu, c.Read(0, 2)); // IDs are read-only
    }

    [Fact]
    public void Resources_OfAPf_AndOfItsVfs_ComeFromConfigSpace()
    {
        var c = Pf();
        Assert.Equal([new PciResource(0, 0xF000_0000, 0x10_0000), new PciResource(2, 0x40_0000_0000, 0x100_0000)], PciResources.OfFunction(c));
        Assert.Equal([new PciResource(0, 0xF100_0000 + 2 * 0x4000, 0x4000)], PciResources.OfVirtualFunction(c, 2));
        Assert.Empty(PciResources.OfVirtualFunction(c, 4));
        Assert.Equal(2, PciResources.VfIndexOf(c, 0x0100, 0x0103));
        Assert.Equal(-1, PciResources.VfIndexOf(c, 0x0100, 0x0105));
    }

    [Fact]
    public void BootedHost_EnumeratesTheDefaultDevicesBars_AndAConfigWriteToALockedTdiMovesItToError()
    {
        var device = TdispPciDevice.CreateDefault();
        var config = TsmLab.Hosts.BuiltInHosts.Find("default")! with { Functions = device.Functions, Devices = [device] };
        var kernel = HostKernel.Boot(config);
        var pf = kernel.Functions[0];
        Assert.Contains(new PciResource(2, 0x40_0000_0000, 0x100_0000), pf.Resources);
        Assert.True(kernel.Functions[1].ContainsMmio(0xF100_0000, 0x4000));
        Assert.False(kernel.Functions[1].ContainsMmio(0xF100_0000, 0x4001));
        Assert.False(pf.ContainsMmio(ulong.MaxValue - 0xFFF, 0x2000)); // no wrap
        Assert.NotNull(pf.Doe);
        Assert.Null(kernel.Functions[1].Doe);

        var tdi = device.Dsm.Interfaces[0];
        TsmLab.Tests.Tdisp.TdispTestKit.DriveTo(device.Dsm, TdiState.ConfigLocked);
        pf.Config.Write32(0x10, uint.MaxValue); // a BAR sizing probe while LOCKED
        Assert.Equal(TdiState.Error, tdi.State);
    }
}
