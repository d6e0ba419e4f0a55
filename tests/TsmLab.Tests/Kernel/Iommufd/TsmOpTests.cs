using TsmLab.Abi;
using TsmLab.Kernel;
using static TsmLab.Tests.Kernel.Raw;
using System.Buffers.Binary;

namespace TsmLab.Tests.Kernel.Iommufd;

/// <summary>IOMMU_VDEVICE_TSM_OP: bind and unbind (docs/errno.md "TSM_OP").</summary>
public class TsmOpTests
{
    [Fact]
    public void Bind_ConnectedFunction_BindsTdiToTheVm()
    {
        var r = TestHosts.Assigned(TvmArch.Sev);
        Assert.NotNull(r.Function.Tdi);
        Assert.Same(r.Kernel.Vms.Single(), r.Function.Tdi!.Vm);
        Assert.Equal(r.Assignment.Plan.VirtId, r.Function.Tdi.VirtId);
    }

    [Fact]
    public void Bind_EchoesTheStructBack()
    {
        var r = TestHosts.Assigned(TvmArch.Sev, bind: false);
        var s = Struct(16, U32(IommuVdeviceTsmOp.Type, 1), U32(IommuVdeviceTsmOp.VdeviceId, r.Vdev));
        var big = s.Concat(new byte[8]).ToArray();
        BinaryPrimitives.WriteUInt32LittleEndian(big, 24);
        Assert.Equal(0, Ioctl(r.Vmm, r.IommuFd, IommufdIoctl.VdeviceTsmOp, big));
        Assert.Equal(s[4..16], Read(r.Vmm, 16)[4..16]);
    }

    [Fact]
    public void Flags_ReturnsEopnotsupp()
    {
        var r = TestHosts.Assigned(TvmArch.Sev, bind: false);
        Assert.Equal(Neg(Errno.EOPNOTSUPP), Ioctl(r.Vmm, r.IommuFd, IommufdIoctl.VdeviceTsmOp, Struct(16, U32(4, 1), U32(8, 1), U32(12, r.Vdev))));
        Assert.Null(r.Function.Tdi);
    }

    [Fact]
    public void UnknownVdevice_ReturnsEnoent() =>
        Assert.Equal(Neg(Errno.ENOENT), TestHosts.Assigned(TvmArch.Sev, bind: false) is var r ? r.Calls.TsmOp(r.IommuFd, r.Assignment.ViommuId, 1) : 0);

    [Fact]
    public void UnknownType_ReturnsEinval()
    {
        var r = TestHosts.Assigned(TvmArch.Sev, bind: false);
        Assert.Equal(Neg(Errno.EINVAL), r.Calls.TsmOp(r.IommuFd, r.Vdev, 3));
        Assert.Equal(Neg(Errno.EINVAL), r.Calls.TsmOp(r.IommuFd, r.Vdev, 0));
    }

    [Fact]
    public void Bind_NotConnected_ReturnsEinval()
    {
        var r = TestHosts.Assigned(TvmArch.Sev, connect: false, bind: false);
        Assert.Equal(Neg(Errno.EINVAL), r.Calls.TsmOp(r.IommuFd, r.Vdev, 1));
        Assert.Equal(0, r.Platform.Binds);
    }

    [Fact]
    public void Bind_Twice_SameVm_IsIdempotent()
    {
        var r = TestHosts.Assigned(TvmArch.Sev);
        Assert.Equal(0, r.Calls.TsmOp(r.IommuFd, r.Vdev, 1));
        Assert.Equal(1, r.Platform.Binds);
    }

    [Fact]
    public void Bind_BoundToAnotherVm_ReturnsEbusy()
    {
        var r = TestHosts.Assigned(TvmArch.Sev);
        // A second VMM process on the same host assigns the same function to its own VM: the
        // VFIO cdev cannot be bound twice, so it uses a VF of the same DSM and we move the TDI
        // by hand to model a stale binding held by another VM.
        var other = r.Kernel.CreateProcess();
        var a2 = new TsmLab.Vmm.DeviceAssignment(other, new TsmLab.Vmm.AssignmentPlan("/dev/vfio/devices/vfio1", KvmVmType.X86SnpVm, 3, TestHosts.GuestAddress));
        Assert.True(a2.Prepare());
        Assert.True(a2.Bind());
        var vf = r.Kernel.VfioDevices[1].Function;
        var firstVm = r.Function.Tdi!.Vm;
        Assert.NotSame(firstVm, vf.Tdi!.Vm);
        // Bind vfio1's function again, now from the first VM's point of view: EBUSY.
        Assert.Equal(Neg(Errno.EBUSY), r.Kernel.Tsm.Bind(vf, firstVm, 0x18));
    }

    [Fact]
    public void Bind_PlatformError_PassesThroughAndBindsNothing()
    {
        var r = TestHosts.Assigned(TvmArch.Sev, bind: false);
        r.Platform.BindResult = Neg(Errno.ENOMEM);
        Assert.Equal(Neg(Errno.ENOMEM), r.Calls.TsmOp(r.IommuFd, r.Vdev, 1));
        Assert.Null(r.Function.Tdi);
    }

    [Fact]
    public void Unbind_AlwaysSucceeds_AndUnbinds()
    {
        var r = TestHosts.Assigned(TvmArch.Sev);
        Assert.Equal(0, r.Calls.TsmOp(r.IommuFd, r.Vdev, 2));
        Assert.Null(r.Function.Tdi);
        Assert.Equal(0, r.Calls.TsmOp(r.IommuFd, r.Vdev, 2));
        Assert.Equal(1, r.Platform.Unbinds);
    }

    [Fact]
    public void DestroyingTheVdevice_Unbinds()
    {
        var r = TestHosts.Assigned(TvmArch.Sev);
        Assert.Equal(0, r.Calls.Destroy(r.IommuFd, r.Vdev));
        Assert.Null(r.Function.Tdi);
        Assert.Equal(1, r.Platform.Unbinds);
    }

    [Fact]
    public void Bind_CopyBackFault_ReturnsEfault()
    {
        var r = TestHosts.Assigned(TvmArch.Sev, bind: false);
        MapBuffer(r.Vmm);
        r.Vmm.Memory.CopyToUser(Buf, Struct(16, U32(4, 1), U32(12, r.Vdev)));
        r.Vmm.Memory.Protect(Buf, 4096, Prot.Read);
        Assert.Equal(Neg(Errno.EFAULT), r.Vmm.Ioctl(r.IommuFd, IommufdIoctl.VdeviceTsmOp, Buf));
    }
}
