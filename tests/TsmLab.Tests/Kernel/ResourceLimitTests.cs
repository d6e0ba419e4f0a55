using TsmLab.Abi;
using TsmLab.Hosts;
using TsmLab.Kernel;
using TsmLab.Tdisp.Device;
using TsmLab.Vmm;
using static TsmLab.Tests.Kernel.Raw;

namespace TsmLab.Tests.Kernel;

/// <summary>RLIMIT_NOFILE: the soft/hard pair, setrlimit's errno rows, EMFILE at the soft limit, and one VMM holding 4096 vDevices.</summary>
public class ResourceLimitTests
{
    private static HostConfiguration DefaultHost => BuiltInHosts.Find("default")!;

    private static Process NewVmm(HostConfiguration? config = null) => HostKernel.Boot(config ?? DefaultHost).CreateProcess();

    [Fact]
    public void NewProcess_HasTheDefaultNofileLimits()
    {
        Assert.Equal(0, NewVmm().GetRlimit(ResourceLimits.Nofile, out var l));
        Assert.Equal(new ResourceLimit(1024, 524288), l);
    }

    [Fact]
    public void Open_WhenLowestFreeDescriptorReachesSoftLimit_ReturnsEmfile()
    {
        var p = NewVmm();
        Assert.Equal(0, p.SetRlimit(ResourceLimits.Nofile, new ResourceLimit(6, 524288)));
        Assert.Equal(3, p.Open("/dev/iommu"));
        Assert.Equal(4, p.Open("/dev/kvm"));
        Assert.Equal(5, p.Open("/dev/kvm"));
        Assert.Equal(Neg(Errno.EMFILE), p.Open("/dev/kvm"));
        // A freed descriptor below the limit is given again.
        Assert.Equal(0, p.Close(4));
        Assert.Equal(4, p.Open("/dev/kvm"));
    }

    [Fact]
    public void SetRlimit_LoweringSoftBelowOpenDescriptors_ClosesNothing()
    {
        var p = NewVmm();
        for (int i = 0; i < 5; i++) Assert.Equal(3 + i, p.Open("/dev/kvm"));
        Assert.Equal(0, p.SetRlimit(ResourceLimits.Nofile, new ResourceLimit(4, 524288)));
        Assert.Equal(5, p.OpenFiles().Count());
        Assert.Equal(Neg(Errno.EMFILE), p.Open("/dev/kvm"));
    }

    [Fact]
    public void SetRlimit_SoftAboveHard_ReturnsEinvalAndChangesNothing()
    {
        var p = NewVmm();
        Assert.Equal(Neg(Errno.EINVAL), p.SetRlimit(ResourceLimits.Nofile, new ResourceLimit(2048, 1024)));
        Assert.Equal(0, p.GetRlimit(ResourceLimits.Nofile, out var l));
        Assert.Equal(new ResourceLimit(1024, 524288), l);
    }

    [Theory]
    [InlineData(ResourceLimits.Count)]
    [InlineData(-1)]
    public void GetAndSetRlimit_ResourceOutOfRange_ReturnEinval(int resource)
    {
        var p = NewVmm();
        Assert.Equal(Neg(Errno.EINVAL), p.GetRlimit(resource, out _));
        Assert.Equal(Neg(Errno.EINVAL), p.SetRlimit(resource, new ResourceLimit(1, 1)));
    }

    [Fact]
    public void SetRlimit_RaisingHardWithoutCapSysResource_ReturnsEperm_LoweringIsAllowed()
    {
        var p = NewVmm();
        Assert.Equal(Neg(Errno.EPERM), p.SetRlimit(ResourceLimits.Nofile, new ResourceLimit(1024, 524289)));
        Assert.Equal(0, p.SetRlimit(ResourceLimits.Nofile, new ResourceLimit(1024, 4096)));
        // Lowered once, the hard limit cannot come back up.
        Assert.Equal(Neg(Errno.EPERM), p.SetRlimit(ResourceLimits.Nofile, new ResourceLimit(1024, 524288)));
        Assert.Equal(0, p.SetRlimit(ResourceLimits.Nofile, new ResourceLimit(4096, 4096)));
    }

    [Fact]
    public void SetRlimit_RaisingHardWithCapSysResource_IsAllowedUpToNrOpen()
    {
        var p = NewVmm(DefaultHost with { ProcessCapSysResource = true });
        Assert.Equal(0, p.SetRlimit(ResourceLimits.Nofile, new ResourceLimit(1024, ResourceLimits.NrOpen)));
        Assert.Equal(Neg(Errno.EPERM), p.SetRlimit(ResourceLimits.Nofile, new ResourceLimit(1024, ResourceLimits.NrOpen + 1)));
    }

    [Fact]
    public void SetRlimit_HardNofileAboveNrOpen_ReturnsEperm_EvenWhenLowering()
    {
        var p = NewVmm(DefaultHost with { ProcessNofile = new ResourceLimit(1024, ResourceLimits.Infinity) });
        Assert.Equal(Neg(Errno.EPERM), p.SetRlimit(ResourceLimits.Nofile, new ResourceLimit(1024, ResourceLimits.NrOpen + 1)));
        Assert.Equal(0, p.SetRlimit(ResourceLimits.Nofile, new ResourceLimit(1024, ResourceLimits.NrOpen)));
    }

    /// <summary>
    /// A VMM with one VM assigns every function of a device with 4095 VFs: one iommufd, one KVM VM,
    /// one KVM VFIO device, one IOAS, HWPT and vIOMMU, and per function a VFIO cdev fd and a
    /// vDevice. 4096 VFIO fds pass the default soft limit (EMFILE at fd 1024); after raising the
    /// soft limit to its hard limit every one is assigned.
    /// </summary>
    [Fact]
    public void OneProcess_RaisesItsSoftLimit_AndAssigns4096Vdevices()
    {
        const int functions = 4096;
        var device = DeviceConfiguration.Default with { Sriov = DeviceConfiguration.Default.Sriov! with { Count = functions - 1 } };
        var config = DefaultHost with { Functions = BuiltInHosts.FunctionsOf(device), Devices = [] };
        var p = HostKernel.Boot(config).CreateProcess();
        var scratch = new ScratchMemory(p);
        var calls = new IommufdCalls(p, scratch);
        int iommu = p.Open("/dev/iommu"), kvm = p.Open("/dev/kvm");
        int vm = (int)calls.CreateVm(kvm, KvmVmType.X86SnpVm);
        Assert.True(vm >= 0);
        Assert.Equal(0, calls.CreateVfioKvmDevice(vm, out int kvmVfio));
        Assert.Equal(0, calls.IoasAlloc(iommu, out uint ioas));
        uint hwpt = 0, viommu = 0;
        bool sawEmfile = false;
        for (int i = 0; i < functions; i++)
        {
            scratch.Reset();
            int vfio = p.Open($"/dev/vfio/devices/vfio{i}");
            if (vfio == Neg(Errno.EMFILE) && !sawEmfile)
            {
                sawEmfile = true;
                Assert.Equal(1024, i + 7); // fds 0-2, iommu, kvm, vm, kvm-vfio, then vfio0.. up to fd 1023
                Assert.Equal(0, p.GetRlimit(ResourceLimits.Nofile, out var l));
                Assert.Equal(0, p.SetRlimit(ResourceLimits.Nofile, l with { Soft = l.Hard }));
                vfio = p.Open($"/dev/vfio/devices/vfio{i}");
            }
            Assert.True(vfio >= 0, $"open vfio{i}: {vfio}");
            Assert.Equal(0, calls.AddVfioFile(kvmVfio, vfio));
            Assert.Equal(0, calls.BindIommufd(vfio, iommu, out uint dev));
            if (i == 0)
            {
                Assert.Equal(0, calls.HwptAlloc(iommu, dev, ioas, IommuHwptAlloc.FlagNestParent, out hwpt));
                Assert.Equal(0, calls.ViommuAlloc(iommu, IommuViommuAlloc.TypeArmRealmSmmuV3OrAmd, dev, hwpt, out viommu));
            }
            Assert.Equal(0, calls.AttachPt(vfio, hwpt, out _));
            Assert.Equal(0, calls.VdeviceAlloc(iommu, viommu, dev, (ulong)(0x18 + i), out _));
        }
        Assert.True(sawEmfile);
        Assert.Equal(functions + 4, p.OpenFiles().Count());
    }
}
