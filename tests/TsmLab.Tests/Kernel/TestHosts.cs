using TsmLab.Abi;
using TsmLab.Hosts;
using TsmLab.Kernel;
using TsmLab.Kernel.Pci;
using TsmLab.Vmm;

namespace TsmLab.Tests.Kernel;

/// <summary>A booted host with the test platform, a VMM process, and its assignment of vfio0.</summary>
internal sealed class TestRig
{
    public required HostKernel Kernel { get; init; }
    public required TestTsmPlatform Platform { get; init; }
    public required Process Vmm { get; init; }
    public required DeviceAssignment Assignment { get; init; }
    public IommufdCalls Calls => Assignment.Calls;
    public int IommuFd => Assignment.IommuFd;
    public uint Vdev => Assignment.VdeviceId;
    public PciFunction Function => Kernel.VfioDevices[0].Function;
}

internal static class TestHosts
{
    public static readonly PciAddress GuestAddress = new(0, 0, 3, 0);

    /// <summary>A host whose TSM serves <paramref name="arch"/>, optionally connected.</summary>
    public static (HostKernel Kernel, TestTsmPlatform Platform) Boot(TvmArch arch, TsmAbiProfile profile = TsmAbiProfile.OpArch, bool connect = true)
    {
        var platform = new TestTsmPlatform(arch);
        var config = new HostConfiguration
        {
            Name = "test-" + arch,
            Arch = arch == TvmArch.Cca ? HostArch.Arm64 : HostArch.X86_64,
            VmTypes = arch switch
            {
                TvmArch.Cca => [new ConfidentialVmType(KvmVmType.ArmRealm, TvmArch.Cca)],
                TvmArch.Sev => [new ConfidentialVmType(KvmVmType.X86SnpVm, TvmArch.Sev)],
                TvmArch.Tdx => [new ConfidentialVmType(KvmVmType.X86TdxVm, TvmArch.Tdx)],
                _ => [],
            },
            Iommu = arch == TvmArch.Cca ? HostIommu.ArmSmmuV3Realm : HostIommu.AmdVi,
            Profile = profile,
            Functions = BuiltInHosts.DefaultDeviceFunctions(),
            Tsms = [new TsmSpec("test-tsm", (_, _) => platform)],
            Connects = connect ? [(new PciAddress(0, 1, 0, 0), "tsm0")] : [],
        };
        return (HostKernel.Boot(config), platform);
    }

    public static ulong VmTypeFor(TvmArch arch) => arch switch
    {
        TvmArch.Cca => KvmVmType.ArmRealm,
        TvmArch.Sev => KvmVmType.X86SnpVm,
        TvmArch.Tdx => KvmVmType.X86TdxVm,
        _ => KvmVmType.X86Default,
    };

    /// <summary>Boots, runs the assignment up to the vDevice and (optionally) binds.</summary>
    public static TestRig Assigned(TvmArch arch, TsmAbiProfile profile = TsmAbiProfile.OpArch, bool connect = true, bool bind = true, ulong? vmType = null)
    {
        var (kernel, platform) = Boot(arch, profile, connect);
        var vmm = kernel.CreateProcess();
        var plan = new AssignmentPlan("/dev/vfio/devices/vfio0", vmType ?? VmTypeFor(arch), IommuViommuAlloc.TypeArmRealmSmmuV3OrAmd, GuestAddress);
        var a = new DeviceAssignment(vmm, plan);
        Assert.True(a.Prepare(), string.Join("\n", a.Steps.Select(s => $"{s.Call}: {s.ResultText}")));
        if (bind) Assert.True(a.Bind(), a.Steps[^1].ResultText);
        return new TestRig { Kernel = kernel, Platform = platform, Vmm = vmm, Assignment = a };
    }
}
