using TsmLab.Abi;
using TsmLab.Kernel;
using TsmLab.Vmm;
using static TsmLab.Tests.Kernel.Raw;
using System.Buffers.Binary;

namespace TsmLab.Tests.Kernel.Kvm;

/// <summary>KVM_CREATE_VM, KVM_CREATE_DEVICE, KVM_SET_DEVICE_ATTR and the VFIO cdev (docs/errno.md).</summary>
public class KvmVfioTests
{
    private static (Process P, IommufdCalls C) Vmm(TvmArch arch = TvmArch.Sev)
    {
        var (k, _) = TestHosts.Boot(arch);
        var p = k.CreateProcess();
        return (p, new IommufdCalls(p, new ScratchMemory(p)));
    }

    [Theory]
    [InlineData(TvmArch.Sev, KvmVmType.X86SnpVm, true)]
    [InlineData(TvmArch.Sev, KvmVmType.X86Default, true)]
    [InlineData(TvmArch.Sev, KvmVmType.X86TdxVm, false)]
    [InlineData(TvmArch.Sev, 2ul, false)]
    [InlineData(TvmArch.Sev, KvmVmType.ArmRealm, false)]
    [InlineData(TvmArch.Cca, KvmVmType.ArmRealm, true)]
    [InlineData(TvmArch.Cca, KvmVmType.ArmRealm | 40, true)]
    [InlineData(TvmArch.Cca, 0ul, true)]
    [InlineData(TvmArch.Cca, 31ul, false)]
    [InlineData(TvmArch.Cca, 49ul, false)]
    [InlineData(TvmArch.Cca, 0x200ul, false)]
    [InlineData(TvmArch.Tdx, KvmVmType.X86TdxVm, true)]
    public void CreateVm_AcceptsOnlyTheHostsTypes(TvmArch host, ulong type, bool ok)
    {
        var (p, c) = Vmm(host);
        long rc = c.CreateVm(p.Open("/dev/kvm"), type);
        if (ok) Assert.True(rc >= 3); else Assert.Equal(Neg(Errno.EINVAL), rc);
    }

    [Fact]
    public void CreateVm_TypeDecidesTheVmArchitecture()
    {
        var (p, c) = Vmm(TvmArch.Cca);
        c.CreateVm(p.Open("/dev/kvm"), KvmVmType.ArmRealm);
        Assert.Equal(TvmArch.Cca, p.Kernel.Vms.Single().Arch);
    }

    [Fact]
    public void CreateDevice_WritesFdIntoStructAndReturnsZero()
    {
        var (p, c) = Vmm();
        int vm = (int)c.CreateVm(p.Open("/dev/kvm"), KvmVmType.X86SnpVm);
        Assert.Equal(0, c.CreateVfioKvmDevice(vm, out int dev));
        Assert.Equal(vm + 1, dev);
    }

    [Fact]
    public void CreateDevice_UnknownType_ReturnsEnodev()
    {
        var (p, c) = Vmm();
        int vm = (int)c.CreateVm(p.Open("/dev/kvm"), KvmVmType.X86SnpVm);
        var s = new byte[12];
        BinaryPrimitives.WriteUInt32LittleEndian(s.AsSpan(KvmCreateDevice.Type), 99);
        Assert.Equal(Neg(Errno.ENODEV), Ioctl(p, vm, KvmIoctl.CreateDevice, s));
    }

    [Fact]
    public void CreateDevice_TestFlag_CreatesNothing()
    {
        var (p, c) = Vmm();
        int vm = (int)c.CreateVm(p.Open("/dev/kvm"), KvmVmType.X86SnpVm);
        var s = new byte[12];
        BinaryPrimitives.WriteUInt32LittleEndian(s.AsSpan(KvmCreateDevice.Type), KvmCreateDevice.TypeVfio);
        BinaryPrimitives.WriteUInt32LittleEndian(s.AsSpan(KvmCreateDevice.Flags), KvmCreateDevice.FlagTest);
        Assert.Equal(0, Ioctl(p, vm, KvmIoctl.CreateDevice, s));
        Assert.Equal(0, c.CreateVfioKvmDevice(vm, out _));
    }

    [Fact]
    public void CreateDevice_SecondVfioDevice_ReturnsEbusy()
    {
        var (p, c) = Vmm();
        int vm = (int)c.CreateVm(p.Open("/dev/kvm"), KvmVmType.X86SnpVm);
        Assert.Equal(0, c.CreateVfioKvmDevice(vm, out _));
        Assert.Equal(Neg(Errno.EBUSY), c.CreateVfioKvmDevice(vm, out _));
    }

    [Fact]
    public void CreateDevice_BadPointer_ReturnsEfault()
    {
        var (p, c) = Vmm();
        int vm = (int)c.CreateVm(p.Open("/dev/kvm"), KvmVmType.X86SnpVm);
        Assert.Equal(Neg(Errno.EFAULT), p.Ioctl(vm, KvmIoctl.CreateDevice, 0x42));
    }

    private static (Process, IommufdCalls, int Dev, int Vfio) KvmDevice()
    {
        var (p, c) = Vmm();
        int vm = (int)c.CreateVm(p.Open("/dev/kvm"), KvmVmType.X86SnpVm);
        c.CreateVfioKvmDevice(vm, out int dev);
        return (p, c, dev, p.Open("/dev/vfio/devices/vfio0"));
    }

    private static long SetAttr(Process p, int dev, uint group, ulong attr, ulong addr)
    {
        var s = new byte[24];
        BinaryPrimitives.WriteUInt32LittleEndian(s.AsSpan(KvmDeviceAttr.Group), group);
        BinaryPrimitives.WriteUInt64LittleEndian(s.AsSpan(KvmDeviceAttr.Attr), attr);
        BinaryPrimitives.WriteUInt64LittleEndian(s.AsSpan(KvmDeviceAttr.Addr), addr);
        return Ioctl(p, dev, KvmIoctl.SetDeviceAttr, s, Buf + 64);
    }

    private static ulong FdAt(Process p, int fd)
    {
        MapBuffer(p);
        p.Memory.CopyToUser(Buf + 512, BitConverter.GetBytes(fd));
        return Buf + 512;
    }

    [Fact]
    public void SetAttr_UnknownGroupOrAttr_ReturnsEnxio()
    {
        var (p, _, dev, vfio) = KvmDevice();
        Assert.Equal(Neg(Errno.ENXIO), SetAttr(p, dev, 2, 1, FdAt(p, vfio)));
        Assert.Equal(Neg(Errno.ENXIO), SetAttr(p, dev, 1, 3, FdAt(p, vfio)));
    }

    [Fact]
    public void SetAttr_FdPointerFault_ReturnsEfault()
    {
        var (p, _, dev, _) = KvmDevice();
        Assert.Equal(Neg(Errno.EFAULT), SetAttr(p, dev, 1, 1, 0x99_0000));
    }

    [Fact]
    public void SetAttr_ClosedFd_ReturnsEbadf()
    {
        var (p, _, dev, _) = KvmDevice();
        Assert.Equal(Neg(Errno.EBADF), SetAttr(p, dev, 1, 1, FdAt(p, 60)));
    }

    [Fact]
    public void SetAttr_NotAVfioFile_ReturnsEinval()
    {
        var (p, _, dev, _) = KvmDevice();
        Assert.Equal(Neg(Errno.EINVAL), SetAttr(p, dev, 1, 1, FdAt(p, p.Open("/dev/iommu"))));
    }

    [Fact]
    public void SetAttr_AddTwice_ReturnsEexist_DelUnknown_ReturnsEnoent()
    {
        var (p, _, dev, vfio) = KvmDevice();
        Assert.Equal(0, SetAttr(p, dev, 1, 1, FdAt(p, vfio)));
        Assert.Equal(Neg(Errno.EEXIST), SetAttr(p, dev, 1, 1, FdAt(p, vfio)));
        Assert.Equal(0, SetAttr(p, dev, 1, 2, FdAt(p, vfio)));
        Assert.Equal(Neg(Errno.ENOENT), SetAttr(p, dev, 1, 2, FdAt(p, vfio)));
    }

    [Fact]
    public void SetAttr_StructFault_ReturnsEfault()
    {
        var (p, _, dev, _) = KvmDevice();
        Assert.Equal(Neg(Errno.EFAULT), p.Ioctl(dev, KvmIoctl.SetDeviceAttr, 0x77_0000));
    }

    [Fact]
    public void Vfio_IoctlBeforeBind_ReturnsEinval()
    {
        var (p, c) = Vmm();
        int vfio = p.Open("/dev/vfio/devices/vfio0");
        Assert.Equal(Neg(Errno.EINVAL), c.AttachPt(vfio, 1, out _));
    }

    [Fact]
    public void Vfio_Bind_ShortArgszOrFlags_ReturnsEinval()
    {
        var (p, _) = Vmm();
        int vfio = p.Open("/dev/vfio/devices/vfio0"), iommu = p.Open("/dev/iommu");
        var s = new byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(s, 12);
        BinaryPrimitives.WriteUInt32LittleEndian(s.AsSpan(8), (uint)iommu);
        Assert.Equal(Neg(Errno.EINVAL), Ioctl(p, vfio, VfioIoctl.DeviceBindIommufd, s));
        BinaryPrimitives.WriteUInt32LittleEndian(s, 16);
        BinaryPrimitives.WriteUInt32LittleEndian(s.AsSpan(4), 1);
        Assert.Equal(Neg(Errno.EINVAL), Ioctl(p, vfio, VfioIoctl.DeviceBindIommufd, s));
    }

    [Fact]
    public void Vfio_Bind_BadFd_ReturnsEbadf_NotIommufd_ReturnsEbadfd()
    {
        var (p, c) = Vmm();
        int vfio = p.Open("/dev/vfio/devices/vfio0");
        Assert.Equal(Neg(Errno.EBADF), c.BindIommufd(vfio, 40, out _));
        Assert.Equal(Neg(Errno.EBADFD), c.BindIommufd(vfio, p.Open("/dev/kvm"), out _));
    }

    [Fact]
    public void Vfio_BindTwice_ReturnsEinval_EvenFromAnotherOpen()
    {
        var (p, c) = Vmm();
        int iommu = p.Open("/dev/iommu");
        int a = p.Open("/dev/vfio/devices/vfio0"), b = p.Open("/dev/vfio/devices/vfio0");
        Assert.Equal(0, c.BindIommufd(a, iommu, out _));
        Assert.Equal(Neg(Errno.EINVAL), c.BindIommufd(a, iommu, out _));
        Assert.Equal(Neg(Errno.EINVAL), c.BindIommufd(b, iommu, out _));
    }

    [Fact]
    public void Vfio_Bind_StructFault_ReturnsEfault()
    {
        var (p, _) = Vmm();
        Assert.Equal(Neg(Errno.EFAULT), p.Ioctl(p.Open("/dev/vfio/devices/vfio0"), VfioIoctl.DeviceBindIommufd, 0x55_0000));
    }

    [Fact]
    public void Vfio_Bind_CopyBackFault_ReturnsEfaultAndUnbinds()
    {
        var (p, c) = Vmm();
        int iommu = p.Open("/dev/iommu"), vfio = p.Open("/dev/vfio/devices/vfio0");
        var s = new byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(s, 16);
        BinaryPrimitives.WriteUInt32LittleEndian(s.AsSpan(8), (uint)iommu);
        MapBuffer(p);
        p.Memory.CopyToUser(Buf, s);
        p.Memory.Protect(Buf, 4096, Prot.Read);
        Assert.Equal(Neg(Errno.EFAULT), p.Ioctl(vfio, VfioIoctl.DeviceBindIommufd, Buf));
        Assert.Empty(p.Kernel.IommufdContexts.Single().Objects);
        Assert.Equal(0, c.BindIommufd(vfio, iommu, out _));
    }

    [Fact]
    public void Vfio_Attach_UnknownPt_ReturnsEnoent_WrongType_ReturnsEinval()
    {
        var r = TestHosts.Assigned(TvmArch.Sev, bind: false);
        Assert.Equal(Neg(Errno.ENOENT), r.Calls.AttachPt(r.Assignment.VfioFd, 99, out _));
        Assert.Equal(Neg(Errno.EINVAL), r.Calls.AttachPt(r.Assignment.VfioFd, r.Assignment.ViommuId, out _));
    }

    [Fact]
    public void Vfio_Attach_ToIoas_CreatesAutoDomainAndReturnsItsId()
    {
        var (p, c) = Vmm();
        int iommu = p.Open("/dev/iommu"), vfio = p.Open("/dev/vfio/devices/vfio0");
        c.BindIommufd(vfio, iommu, out _);
        c.IoasAlloc(iommu, out uint ioas);
        Assert.Equal(0, c.AttachPt(vfio, ioas, out uint hwpt));
        Assert.NotEqual(ioas, hwpt);
        Assert.Equal(Neg(Errno.EBUSY), c.Destroy(iommu, ioas));
    }

    [Fact]
    public void Vfio_Attach_ShortArgszOrFlags_ReturnsEinval()
    {
        var r = TestHosts.Assigned(TvmArch.Sev, bind: false);
        var s = new byte[12];
        BinaryPrimitives.WriteUInt32LittleEndian(s, 8);
        Assert.Equal(Neg(Errno.EINVAL), Ioctl(r.Vmm, r.Assignment.VfioFd, VfioIoctl.DeviceAttachIommufdPt, s));
        BinaryPrimitives.WriteUInt32LittleEndian(s, 12);
        BinaryPrimitives.WriteUInt32LittleEndian(s.AsSpan(4), 1);
        Assert.Equal(Neg(Errno.EINVAL), Ioctl(r.Vmm, r.Assignment.VfioFd, VfioIoctl.DeviceAttachIommufdPt, s));
    }

    [Fact]
    public void Vfio_UnknownIoctlWhenBound_ReturnsEnotty()
    {
        var r = TestHosts.Assigned(TvmArch.Sev, bind: false);
        Assert.Equal(Neg(Errno.ENOTTY), r.Vmm.Ioctl(r.Assignment.VfioFd, 0x3B6E, 0));
    }

    [Fact]
    public void Bind_CapturesTheKvmTheFileWasAddedTo()
    {
        var r = TestHosts.Assigned(TvmArch.Sev, bind: false);
        var idev = r.Kernel.IommufdContexts.Single().Get<TsmLab.Kernel.Iommufd.IommufdDevice>(r.Assignment.DevId)!;
        Assert.Same(r.Kernel.Vms.Single(), idev.Kvm);
    }
}
