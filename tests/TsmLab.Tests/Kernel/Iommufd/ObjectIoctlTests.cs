using TsmLab.Abi;
using TsmLab.Hosts;
using TsmLab.Kernel;
using TsmLab.Kernel.Iommufd;
using TsmLab.Vmm;
using static TsmLab.Tests.Kernel.Raw;

namespace TsmLab.Tests.Kernel.Iommufd;

/// <summary>IOAS, HWPT, vIOMMU and vDevice allocation, destroy and lifetime (docs/errno.md).</summary>
public class ObjectIoctlTests
{
    private static TestRig Rig(bool bind = false) => TestHosts.Assigned(TvmArch.Sev, bind: bind);

    private static IommufdContext Ctx(TestRig r) => r.Kernel.IommufdContexts.Single();

    [Fact]
    public void IoasAlloc_WithFlags_ReturnsEopnotsupp()
    {
        var r = Rig();
        Assert.Equal(Neg(Errno.EOPNOTSUPP), Ioctl(r.Vmm, r.IommuFd, IommufdIoctl.IoasAlloc, Struct(12, U32(4, 1))));
    }

    [Fact]
    public void IoasAlloc_CopyBackFault_ReturnsEfaultAndLeavesNoObject()
    {
        var r = Rig();
        int before = Ctx(r).Objects.Count();
        MapBuffer(r.Vmm);
        r.Vmm.Memory.CopyToUser(Buf, Struct(12));
        r.Vmm.Memory.Protect(Buf, 4096, Prot.Read);
        Assert.Equal(Neg(Errno.EFAULT), r.Vmm.Ioctl(r.IommuFd, IommufdIoctl.IoasAlloc, Buf));
        Assert.Equal(before, Ctx(r).Objects.Count());
    }

    [Theory]
    [InlineData(IommuHwptAlloc.FlagDirtyTracking, 0u, Errno.EOPNOTSUPP)]
    [InlineData(IommuHwptAlloc.FlagPasid, 0u, Errno.EOPNOTSUPP)]
    [InlineData(0u, 1u, Errno.EOPNOTSUPP)]
    public void HwptAlloc_UnsupportedFlagOrReserved_ReturnsEopnotsupp(uint flags, uint reserved, Errno expected)
    {
        var r = Rig();
        var s = Struct(48, U32(IommuHwptAlloc.Flags, flags), U32(IommuHwptAlloc.DevId, r.Assignment.DevId), U32(IommuHwptAlloc.PtId, r.Assignment.IoasId), U32(IommuHwptAlloc.Reserved, reserved));
        Assert.Equal(Neg(expected), Ioctl(r.Vmm, r.IommuFd, IommufdIoctl.HwptAlloc, s));
    }

    [Fact]
    public void HwptAlloc_DataTypeWithoutData_ReturnsEinval()
    {
        var r = Rig();
        var s = Struct(48, U32(IommuHwptAlloc.DevId, r.Assignment.DevId), U32(IommuHwptAlloc.PtId, r.Assignment.IoasId), U32(IommuHwptAlloc.DataType, 1));
        Assert.Equal(Neg(Errno.EINVAL), Ioctl(r.Vmm, r.IommuFd, IommufdIoctl.HwptAlloc, s));
    }

    [Fact]
    public void HwptAlloc_NestedData_ReturnsEopnotsupp()
    {
        var r = Rig();
        var s = Struct(48, U32(IommuHwptAlloc.DevId, r.Assignment.DevId), U32(IommuHwptAlloc.PtId, r.Assignment.HwptId), U32(IommuHwptAlloc.DataType, 1), U32(IommuHwptAlloc.DataLen, 8));
        Assert.Equal(Neg(Errno.EOPNOTSUPP), Ioctl(r.Vmm, r.IommuFd, IommufdIoctl.HwptAlloc, s));
    }

    [Fact]
    public void HwptAlloc_DevIdNotADevice_ReturnsEnoent()
    {
        var r = Rig();
        var s = Struct(48, U32(IommuHwptAlloc.DevId, r.Assignment.IoasId), U32(IommuHwptAlloc.PtId, r.Assignment.IoasId));
        Assert.Equal(Neg(Errno.ENOENT), Ioctl(r.Vmm, r.IommuFd, IommufdIoctl.HwptAlloc, s));
    }

    [Fact]
    public void HwptAlloc_UnknownPtId_ReturnsEinval()
    {
        var r = Rig();
        var s = Struct(48, U32(IommuHwptAlloc.DevId, r.Assignment.DevId), U32(IommuHwptAlloc.PtId, 99));
        Assert.Equal(Neg(Errno.EINVAL), Ioctl(r.Vmm, r.IommuFd, IommufdIoctl.HwptAlloc, s));
    }

    [Fact]
    public void HwptAlloc_DataLenWithoutDataType_ReturnsEinval()
    {
        var r = Rig();
        var s = Struct(48, U32(IommuHwptAlloc.DevId, r.Assignment.DevId), U32(IommuHwptAlloc.PtId, r.Assignment.IoasId), U32(IommuHwptAlloc.DataLen, 8));
        Assert.Equal(Neg(Errno.EINVAL), Ioctl(r.Vmm, r.IommuFd, IommufdIoctl.HwptAlloc, s));
    }

    [Fact]
    public void HwptAlloc_NestedOnAHwptOrViommuWithoutData_ReturnsEopnotsupp()
    {
        var r = Rig();
        Assert.Equal(Neg(Errno.EOPNOTSUPP), Ioctl(r.Vmm, r.IommuFd, IommufdIoctl.HwptAlloc,
            Struct(48, U32(IommuHwptAlloc.DevId, r.Assignment.DevId), U32(IommuHwptAlloc.PtId, r.Assignment.HwptId))));
        Assert.Equal(Neg(Errno.EOPNOTSUPP), Ioctl(r.Vmm, r.IommuFd, IommufdIoctl.HwptAlloc,
            Struct(48, U32(IommuHwptAlloc.DevId, r.Assignment.DevId), U32(IommuHwptAlloc.PtId, r.Assignment.ViommuId))));
    }

    [Fact]
    public void HwptAlloc_PtIdNotAnIoas_ReturnsEinval()
    {
        var r = Rig();
        var s = Struct(48, U32(IommuHwptAlloc.DevId, r.Assignment.DevId), U32(IommuHwptAlloc.PtId, r.Assignment.VdeviceId));
        Assert.Equal(Neg(Errno.EINVAL), Ioctl(r.Vmm, r.IommuFd, IommufdIoctl.HwptAlloc, s));
    }

    [Theory]
    [InlineData(1u, 3u, Errno.EOPNOTSUPP)]   // flags
    [InlineData(0u, 0u, Errno.EOPNOTSUPP)]   // IOMMU_VIOMMU_TYPE_DEFAULT
    [InlineData(0u, 2u, Errno.EOPNOTSUPP)]   // TEGRA241_CMDQV on an AMD IOMMU
    public void ViommuAlloc_FlagsOrUnsupportedType_ReturnsEopnotsupp(uint flags, uint type, Errno expected)
    {
        var r = Rig();
        var s = Struct(40, U32(IommuViommuAlloc.Flags, flags), U32(IommuViommuAlloc.Type, type), U32(IommuViommuAlloc.DevId, r.Assignment.DevId), U32(IommuViommuAlloc.HwptId, r.Assignment.HwptId));
        Assert.Equal(Neg(expected), Ioctl(r.Vmm, r.IommuFd, IommufdIoctl.ViommuAlloc, s));
    }

    [Fact]
    public void ViommuAlloc_UnknownDevice_ReturnsEnoent()
    {
        var r = Rig();
        var s = Struct(40, U32(IommuViommuAlloc.Type, 3), U32(IommuViommuAlloc.DevId, 77), U32(IommuViommuAlloc.HwptId, r.Assignment.HwptId));
        Assert.Equal(Neg(Errno.ENOENT), Ioctl(r.Vmm, r.IommuFd, IommufdIoctl.ViommuAlloc, s));
    }

    [Fact]
    public void ViommuAlloc_HwptIdNotAHwpt_ReturnsEnoent()
    {
        var r = Rig();
        var s = Struct(40, U32(IommuViommuAlloc.Type, 3), U32(IommuViommuAlloc.DevId, r.Assignment.DevId), U32(IommuViommuAlloc.HwptId, r.Assignment.IoasId));
        Assert.Equal(Neg(Errno.ENOENT), Ioctl(r.Vmm, r.IommuFd, IommufdIoctl.ViommuAlloc, s));
    }

    [Fact]
    public void ViommuAlloc_HwptNotNestParent_ReturnsEinval()
    {
        var r = Rig();
        Assert.Equal(0, r.Calls.HwptAlloc(r.IommuFd, r.Assignment.DevId, r.Assignment.IoasId, 0, out uint plain));
        Assert.Equal(Neg(Errno.EINVAL), r.Calls.ViommuAlloc(r.IommuFd, 3, r.Assignment.DevId, plain, out _));
    }

    [Fact]
    public void ViommuAlloc_DeviceWithoutKvm_ReturnsEnodev()
    {
        var (kernel, _) = TestHosts.Boot(TvmArch.Sev);
        var p = kernel.CreateProcess();
        var calls = new IommufdCalls(p, new ScratchMemory(p));
        int iommu = p.Open("/dev/iommu"), vfio = p.Open("/dev/vfio/devices/vfio0");
        Assert.Equal(0, calls.BindIommufd(vfio, iommu, out uint dev));
        Assert.Equal(0, calls.IoasAlloc(iommu, out uint ioas));
        Assert.Equal(0, calls.HwptAlloc(iommu, dev, ioas, IommuHwptAlloc.FlagNestParent, out uint hwpt));
        Assert.Equal(Neg(Errno.ENODEV), calls.ViommuAlloc(iommu, 3, dev, hwpt, out _));
    }

    [Fact]
    public void VdeviceAlloc_UnknownViommu_ReturnsEnoent()
    {
        var r = Rig();
        Assert.Equal(Neg(Errno.ENOENT), r.Calls.VdeviceAlloc(r.IommuFd, r.Assignment.HwptId, r.Assignment.DevId, 0x18, out _));
    }

    [Fact]
    public void VdeviceAlloc_UnknownDevice_ReturnsEnoent()
    {
        var r = Rig();
        Assert.Equal(Neg(Errno.ENOENT), r.Calls.VdeviceAlloc(r.IommuFd, r.Assignment.ViommuId, 55, 0x18, out _));
    }

    [Fact]
    public void VdeviceAlloc_SecondForSameDevice_ReturnsEexist()
    {
        var r = Rig();
        Assert.Equal(Neg(Errno.EEXIST), r.Calls.VdeviceAlloc(r.IommuFd, r.Assignment.ViommuId, r.Assignment.DevId, 0x20, out _));
    }

    [Fact]
    public void VdeviceAlloc_VirtIdTakenOnViommu_ReturnsEexist()
    {
        var r = Rig();
        int vfio1 = r.Vmm.Open("/dev/vfio/devices/vfio1");
        Assert.Equal(0, r.Calls.BindIommufd(vfio1, r.IommuFd, out uint dev1));
        Assert.Equal(Neg(Errno.EEXIST), r.Calls.VdeviceAlloc(r.IommuFd, r.Assignment.ViommuId, dev1, r.Assignment.Plan.VirtId, out _));
        Assert.Equal(0, r.Calls.VdeviceAlloc(r.IommuFd, r.Assignment.ViommuId, dev1, r.Assignment.Plan.VirtId + 8, out _));
    }

    [Fact]
    public void VdeviceAlloc_DeviceBehindAnotherIommu_ReturnsEinval()
    {
        var cfg = new HostConfiguration
        {
            Name = "two-iommus", VmTypes = [new ConfidentialVmType(KvmVmType.X86SnpVm, TvmArch.Sev)],
            Functions = [.. BuiltInHosts.DefaultDeviceFunctions(0), new PciFunctionSpec(new(0, 2, 0, 0), 1, 2, true, Iommu: 1)],
        };
        var k = HostKernel.Boot(cfg);
        var p = k.CreateProcess();
        var a = new DeviceAssignment(p, new AssignmentPlan("/dev/vfio/devices/vfio0", KvmVmType.X86SnpVm, 3, TestHosts.GuestAddress));
        Assert.True(a.Prepare());
        int other = p.Open("/dev/vfio/devices/vfio5");
        Assert.Equal(0, a.Calls.BindIommufd(other, a.IommuFd, out uint dev));
        Assert.Equal(Neg(Errno.EINVAL), a.Calls.VdeviceAlloc(a.IommuFd, a.ViommuId, dev, 0x99, out _));
    }

    [Fact]
    public void Destroy_UnknownId_ReturnsEnoent()
    {
        var r = Rig();
        Assert.Equal(Neg(Errno.ENOENT), r.Calls.Destroy(r.IommuFd, 1234));
        Assert.Equal(Neg(Errno.ENOENT), r.Calls.Destroy(r.IommuFd, 0));
    }

    [Fact]
    public void Destroy_ObjectInUse_ReturnsEbusy()
    {
        var r = Rig();
        Assert.Equal(Neg(Errno.EBUSY), r.Calls.Destroy(r.IommuFd, r.Assignment.IoasId));
        Assert.Equal(Neg(Errno.EBUSY), r.Calls.Destroy(r.IommuFd, r.Assignment.HwptId));
        Assert.Equal(Neg(Errno.EBUSY), r.Calls.Destroy(r.IommuFd, r.Assignment.ViommuId));
        Assert.Equal(Neg(Errno.EBUSY), r.Calls.Destroy(r.IommuFd, r.Assignment.DevId));
    }

    [Fact]
    public void Destroy_InDependencyOrder_Succeeds()
    {
        var r = Rig();
        Assert.Equal(0, r.Calls.Destroy(r.IommuFd, r.Assignment.VdeviceId));
        Assert.Equal(0, r.Calls.Destroy(r.IommuFd, r.Assignment.ViommuId));
        Assert.Equal(Neg(Errno.EBUSY), r.Calls.Destroy(r.IommuFd, r.Assignment.HwptId)); // still attached
        Assert.Equal(Neg(Errno.ENOENT), r.Calls.Destroy(r.IommuFd, r.Assignment.VdeviceId));
    }

    [Fact]
    public void Ids_AreLowestFreeFromOne()
    {
        var r = Rig();
        Assert.Equal(1u, r.Assignment.DevId);
        Assert.Equal(2u, r.Assignment.IoasId);
        Assert.Equal(0, r.Calls.IoasAlloc(r.IommuFd, out uint a));
        Assert.Equal(0, r.Calls.Destroy(r.IommuFd, a));
        Assert.Equal(0, r.Calls.IoasAlloc(r.IommuFd, out uint b));
        Assert.Equal(a, b);
    }

    [Fact]
    public void ClosingEveryFd_ReleasesContextObjectsTdiAndVm()
    {
        var r = Rig(bind: true);
        Assert.NotNull(r.Function.Tdi);
        r.Vmm.Exit();
        Assert.Null(r.Function.Tdi);
        Assert.Empty(r.Kernel.IommufdContexts);
        Assert.Empty(r.Kernel.Vms);
        Assert.Equal(1, r.Platform.Unbinds);
    }

    [Fact]
    public void ClosingIommufdWhileDeviceBound_KeepsContextUntilVfioCloses()
    {
        var r = Rig(bind: true);
        Assert.Equal(0, r.Vmm.Close(r.IommuFd));
        Assert.Single(r.Kernel.IommufdContexts);
        Assert.NotNull(r.Function.Tdi);
        Assert.Equal(0, r.Vmm.Close(r.Assignment.KvmVfioFd)); // drops KVM's reference to the VFIO file
        Assert.Equal(0, r.Vmm.Close(r.Assignment.VfioFd));
        Assert.Null(r.Function.Tdi);
        Assert.Empty(r.Kernel.IommufdContexts);
    }
}
