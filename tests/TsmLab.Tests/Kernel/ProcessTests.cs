using TsmLab.Abi;
using TsmLab.Hosts;
using TsmLab.Kernel;
using static TsmLab.Tests.Kernel.Raw;

namespace TsmLab.Tests.Kernel;

public class ProcessTests
{
    private static Process NewVmm() => HostKernel.Boot(BuiltInHosts.Find("default")!).CreateProcess();

    [Fact]
    public void Open_GivesLowestFreeDescriptorFromThree()
    {
        var p = NewVmm();
        Assert.Equal(3, p.Open("/dev/iommu"));
        Assert.Equal(4, p.Open("/dev/kvm"));
        Assert.Equal(5, p.Open("/dev/vfio/devices/vfio0"));
        Assert.Equal(0, p.Close(4));
        Assert.Equal(4, p.Open("/dev/iommu"));
    }

    [Theory]
    [InlineData("/dev/nope")]
    [InlineData("/dev/vfio/devices/vfio9")]
    [InlineData("/dev/vfio/devices/vfio01")]
    public void Open_UnknownNode_ReturnsEnoent(string path) => Assert.Equal(Neg(Errno.ENOENT), NewVmm().Open(path));

    [Fact]
    public void CloseAndIoctl_OnClosedDescriptor_ReturnEbadf()
    {
        var p = NewVmm();
        Assert.Equal(Neg(Errno.EBADF), p.Close(3));
        Assert.Equal(Neg(Errno.EBADF), p.Ioctl(7, IommufdIoctl.Destroy, 0));
        Assert.Equal(Neg(Errno.EBADF), p.Close(0));
    }

    [Fact]
    public void DefaultHost_HasTheVfioFunctionsOfTheDefaultDevice()
    {
        var k = HostKernel.Boot(BuiltInHosts.Find("default")!);
        Assert.Equal(["0000:01:00.0", "0000:01:00.1", "0000:01:00.2", "0000:01:00.3", "0000:01:00.4"], k.VfioDevices.Select(v => v.Function.Address.ToString()));
        Assert.All(k.Functions, f => Assert.Equal("0000:01:00.0", f.Dsm.Address.ToString()));
    }

    [Fact]
    public void KvmGetApiVersion_Returns12() => Assert.Equal(12, NewVmm() is var p && p.Open("/dev/kvm") is var fd ? p.Ioctl(fd, KvmIoctl.GetApiVersion, 0) : 0);
}
