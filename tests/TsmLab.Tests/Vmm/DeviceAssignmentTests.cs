using TsmLab.Abi;
using TsmLab.Hosts;
using TsmLab.Kernel;
using TsmLab.Kernel.Pci;
using TsmLab.Vmm;

namespace TsmLab.Tests.Vmm;

/// <summary>The generic VMM: its assignment sequence and its view of guest RAM.</summary>
public sealed class DeviceAssignmentTests
{
    private static DeviceAssignment Plan(HostKernel k, ulong vmType = KvmVmType.X86SnpVm, string vfio = "/dev/vfio/devices/vfio0") =>
        new(k.CreateProcess(), new AssignmentPlan(vfio, vmType, IommuViommuAlloc.TypeArmRealmSmmuV3OrAmd, new PciAddress(0, 0, 3, 0)));

    [Fact]
    public void Prepare_RunsTheSequenceInOrder_UpToTsmInfo_OnTheDefaultHost()
    {
        var a = Plan(HostKernel.Boot(BuiltInHosts.Find("default")!));
        Assert.True(a.Prepare(), string.Join("\n", a.Steps));
        Assert.Equal("open /dev/iommu", a.Steps[0].Name);
        Assert.Contains("IOMMU_VDEVICE_TSM_INFO", a.Steps[^1].Call);
        Assert.All(a.Steps, s => Assert.True(s.Ok));
        Assert.Equal(0x18ul, a.Plan.VirtId);
        Assert.True(a.VdeviceId != 0 && a.IommuFd >= 3 && a.VfioFd >= 3);
    }

    [Fact]
    public void Prepare_StopsAtTheFirstFailingCall_AndRecordsItsAnswer()
    {
        var a = Plan(HostKernel.Boot(BuiltInHosts.Find("default")!), vfio: "/dev/vfio/devices/vfio9");
        Assert.False(a.Prepare());
        Assert.False(a.Steps[^1].Ok);
        Assert.Contains("vfio9", a.Steps[^1].Call);
        Assert.Contains("ENOENT", a.Steps[^1].ResultText);
    }

    [Fact]
    public void GuestRam_MapsGpaToTheVmmsAddresses_AndRefusesWhatIsOutside()
    {
        var p = HostKernel.Boot(BuiltInHosts.Find("default")!).CreateProcess();
        var ram = new GuestRam(p, 0x7000_0000_0000, 1 << 20);
        Assert.True(ram.TryHva(0x1000, 0x10, out ulong hva));
        Assert.Equal(0x7000_0000_1000ul, hva);
        Assert.False(ram.TryHva((1 << 20) - 8, 16, out _));
        Assert.False(ram.Contains(ulong.MaxValue - 4, 8));
        Assert.True(ram.Write(0x20, [1, 2, 3]));
        var back = new byte[3];
        Assert.True(ram.Read(0x20, back));
        Assert.Equal(new byte[] { 1, 2, 3 }, back);
    }
}

/// <summary>Scratch buffers of one process never overlap.</summary>
public sealed class ScratchMemoryTests
{
    [Fact]
    public void TwoScratchBuffers_OfOneProcess_GetSeparateSlots_AndKeepTheirBytes()
    {
        var p = TsmLab.Kernel.HostKernel.Boot(TsmLab.Hosts.BuiltInHosts.Find("default")!).CreateProcess();
        var a = new TsmLab.Vmm.ScratchMemory(p);
        ulong at = a.Put([1, 2, 3]);
        var b = new TsmLab.Vmm.ScratchMemory(p);
        Assert.NotEqual(a.Base, b.Base);
        Assert.Equal(TsmLab.Vmm.ScratchMemory.DefaultBase, a.Base);
        b.Put([9, 9, 9]);
        Assert.Equal([1, 2, 3], a.Read(at, 3));
    }
}
