using TsmLab.Abi;
using static TsmLab.Tests.Kernel.Raw;


namespace TsmLab.Tests.Kernel;

/// <summary>The locks and short-term references added for threads cost no allocation per request.</summary>
public class HotPathAllocationTests
{
    [Fact]
    public void TsmRequest_ThroughFdTableIommufdAndTsmCore_DoesNotAllocate()
    {
        var r = TestHosts.Assigned(TvmArch.Cca);
        MapBuffer(r.Vmm);
        Assert.Equal(0, r.Vmm.Memory.CopyToUser(Buf + 0x1000, new byte[4]));
        var s = new byte[IommuVdeviceTsmReqOpArch.SizeOf];
        IommuVdeviceTsmReqOpArch.Write(s, r.Vdev, TsmReqOp.ObjectInfo, TvmArch.Cca, 4, 4, Buf + 0x1000, Buf + 0x2000);
        Assert.Equal(0, r.Vmm.Memory.CopyToUser(Buf, s));
        for (int i = 0; i < 20; i++) Assert.Equal(0, r.Vmm.Ioctl(r.IommuFd, IommufdIoctl.VdeviceTsmReq, Buf));
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++) r.Vmm.Ioctl(r.IommuFd, IommufdIoctl.VdeviceTsmReq, Buf);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
