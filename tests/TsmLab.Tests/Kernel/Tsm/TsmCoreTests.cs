using TsmLab.Abi;
using TsmLab.Kernel.Pci;
using static TsmLab.Tests.Kernel.Raw;

namespace TsmLab.Tests.Kernel.Tsm;

/// <summary>TSM registration, connect/disconnect and sysfs (docs/errno.md "TSM core, sysfs").</summary>
public class TsmCoreTests
{
    private const string Pf0 = "/sys/bus/pci/devices/0000:01:00.0";
    private const string Vf1 = "/sys/bus/pci/devices/0000:01:00.1";

    [Fact]
    public void Sysfs_ShowsConnectDsmAndBound()
    {
        var r = TestHosts.Assigned(TvmArch.Cca);
        var s = r.Kernel.Sysfs;
        Assert.Equal(0, s.Read(Pf0 + "/tsm/connect", out var c));
        Assert.Equal("tsm0\n", c);
        Assert.Equal(0, s.Read(Vf1 + "/tsm/dsm", out var d));
        Assert.Equal("0000:01:00.0\n", d);
        Assert.Equal(0, s.Read(Pf0 + "/tsm/bound", out var b));
        Assert.Equal("tsm0\n", b);
        Assert.Equal(0, s.Read(Vf1 + "/tsm/bound", out var b1));
        Assert.Equal("\n", b1);
        Assert.Equal(0, s.Read("/sys/class/tsm/tsm0/device", out var parent));
        Assert.Equal("test-tsm\n", parent);
        Assert.Contains("/sys/class/tsm/tsm0", s.Paths());
    }

    [Fact]
    public void Sysfs_ConnectOnlyOnPf0_AndWriteOnlyReadOnlyRules()
    {
        var (k, _) = TestHosts.Boot(TvmArch.Cca, connect: false);
        Assert.Equal(Neg(Errno.ENOENT), k.Sysfs.Write(Vf1 + "/tsm/connect", "tsm0"));
        Assert.Equal(Neg(Errno.EACCES), k.Sysfs.Read(Pf0 + "/tsm/disconnect", out _));
        Assert.Equal(Neg(Errno.EACCES), k.Sysfs.Write(Pf0 + "/tsm/dsm", "x"));
        Assert.Equal(Neg(Errno.ENOENT), k.Sysfs.Read("/sys/class/tsm/tsm9/device", out _));
    }

    [Theory]
    [InlineData("tsm", Errno.EINVAL)]
    [InlineData("tsmx", Errno.EINVAL)]
    [InlineData("foo0", Errno.EINVAL)]
    [InlineData("tsm-1", Errno.EINVAL)]
    [InlineData("tsm7", Errno.ENXIO)]
    public void Connect_BadNameOrUnknownTsm(string name, Errno expected)
    {
        var (k, p) = TestHosts.Boot(TvmArch.Cca, connect: false);
        Assert.Equal(Neg(expected), k.Sysfs.Write(Pf0 + "/tsm/connect", name));
        Assert.Equal(0, p.Connects);
    }

    [Fact]
    public void Connect_Twice_ReturnsEbusy_AcceptsTrailingNewline()
    {
        var (k, _) = TestHosts.Boot(TvmArch.Cca, connect: false);
        Assert.Equal(0, k.Sysfs.Write(Pf0 + "/tsm/connect", "tsm0\n"));
        Assert.Equal(Neg(Errno.EBUSY), k.Sysfs.Write(Pf0 + "/tsm/connect", "tsm0"));
    }

    [Fact]
    public void Connect_PlatformFailure_LeavesUnconnected()
    {
        var (k, p) = TestHosts.Boot(TvmArch.Cca, connect: false);
        p.ConnectResult = Neg(Errno.ENODEV);
        Assert.Equal(Neg(Errno.ENODEV), k.Sysfs.Write(Pf0 + "/tsm/connect", "tsm0"));
        Assert.Null(k.Functions[0].ConnectedTsm);
    }

    [Fact]
    public void Disconnect_NotConnected_ReturnsEnxio_WrongName_ReturnsEinval()
    {
        var (k, _) = TestHosts.Boot(TvmArch.Cca, connect: false);
        Assert.Equal(Neg(Errno.ENXIO), k.Sysfs.Write(Pf0 + "/tsm/disconnect", "tsm0"));
        k.Sysfs.Write(Pf0 + "/tsm/connect", "tsm0");
        Assert.Equal(Neg(Errno.EINVAL), k.Sysfs.Write(Pf0 + "/tsm/disconnect", "tsm1"));
        Assert.Equal(0, k.Sysfs.Write(Pf0 + "/tsm/disconnect", "tsm0"));
        Assert.Null(k.Functions[0].ConnectedTsm);
    }

    [Fact]
    public void Disconnect_UnbindsEveryTdiOfTheDevice()
    {
        var r = TestHosts.Assigned(TvmArch.Cca);
        Assert.Equal(0, r.Kernel.Sysfs.Write(Pf0 + "/tsm/disconnect", "tsm0"));
        Assert.Null(r.Function.Tdi);
        Assert.Equal(Neg(Errno.ENXIO), r.Calls.TsmRequest(r.IommuFd, r.Vdev, TsmReqOp.SetTdiState, TvmArch.Cca, new byte[4], 0, out _, out _));
    }

    [Fact]
    public void Unregister_DisconnectsAndFreesTheId()
    {
        var r = TestHosts.Assigned(TvmArch.Cca);
        var tsm = r.Kernel.Tsm.Devices.Single();
        r.Kernel.Tsm.Unregister(tsm);
        Assert.Null(r.Function.Tdi);
        Assert.Null(r.Function.ConnectedTsm);
        var again = r.Kernel.Tsm.Register("again", new TestTsmPlatform(TvmArch.Cca));
        Assert.Equal(0, again.Id);
    }

    [Fact]
    public void Register_AssignsLowestFreeIds()
    {
        var (k, _) = TestHosts.Boot(TvmArch.Cca);
        var t1 = k.Tsm.Register("b", new TestTsmPlatform(TvmArch.Sev));
        var t2 = k.Tsm.Register("c", new TestTsmPlatform(TvmArch.Tdx));
        Assert.Equal(("tsm1", "tsm2"), (t1.Name, t2.Name));
        k.Tsm.Unregister(t1);
        Assert.Equal(1, k.Tsm.Register("d", new TestTsmPlatform(TvmArch.Sev)).Id);
    }

    [Fact]
    public void Bind_NonTeeFunction_ReturnsEinval()
    {
        var r = TestHosts.Assigned(TvmArch.Cca, bind: false);
        var fn = new PciFunction(new PciAddress(0, 1, 0, 5), 1, 2, teeCapable: false, r.Kernel.Functions[0]);
        Assert.Equal(Neg(Errno.EINVAL), r.Kernel.Tsm.Bind(fn, r.Kernel.Vms.Single(), 0));
        Assert.Equal(Neg(Errno.EINVAL), r.Kernel.Tsm.Bind(r.Function, null, 0));
        Assert.Equal(0, r.Platform.Binds);
    }
}
