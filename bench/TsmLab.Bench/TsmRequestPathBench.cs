using BenchmarkDotNet.Attributes;
using TsmLab.Abi;
using TsmLab.Hosts;
using TsmLab.Kernel;
using TsmLab.Kernel.Pci;
using TsmLab.Vmm;

namespace TsmLab.Bench;

/// <summary>
/// Benchmark 1: the bare TSM request path. A VMM's IOMMU_VDEVICE_TSM_REQ(SET_TDI_STATE) through
/// the fd table, the generic iommufd dispatch (size read, copy_struct_from_user), the vDevice
/// lookup, the envelope checks, the TSM core's locks and payload copy, to a TSM that answers at
/// once, and the struct copy-back. Target: below one real syscall, zero allocation.
/// </summary>
[MemoryDiagnoser]
public class TsmRequestPathBench
{
    private Process vmm = null!;
    private int iommuFd;
    private ulong reqStruct;
    private ulong scopeStruct;
    private Process scopeVmm = null!;
    private int scopeFd;

    [GlobalSetup]
    public void Setup()
    {
        (vmm, iommuFd, reqStruct) = Assign(TsmAbiProfile.OpArch);
        (scopeVmm, scopeFd, scopeStruct) = Assign(TsmAbiProfile.Scope);
    }

    private static (Process, int, ulong) Assign(TsmAbiProfile profile)
    {
        var config = new HostConfiguration
        {
            Name = "bench", Arch = HostArch.Arm64, VmTypes = [new ConfidentialVmType(KvmVmType.ArmRealm, TvmArch.Cca)], Iommu = HostIommu.ArmSmmuV3Realm, Profile = profile,
            Functions = BuiltInHosts.DefaultDeviceFunctions(),
            Tsms = [new TsmSpec("bench", (_, _) => new ImmediateTsm(TvmArch.Cca))],
            Connects = [(new PciAddress(0, 1, 0, 0), "tsm0")],
        };
        var kernel = HostKernel.Boot(config);
        var p = kernel.CreateProcess();
        var a = new DeviceAssignment(p, new AssignmentPlan("/dev/vfio/devices/vfio0", KvmVmType.ArmRealm, 3, new PciAddress(0, 0, 3, 0)));
        if (!a.Prepare() || !a.Bind()) throw new InvalidOperationException("assignment failed");
        ulong payload = a.Calls.Scratch.Put(BitConverter.GetBytes(1u));
        var s = new byte[profile == TsmAbiProfile.Scope ? IommuVdeviceTsmReqScope.SizeOf : IommuVdeviceTsmReqOpArch.SizeOf];
        if (profile == TsmAbiProfile.Scope) IommuVdeviceTsmReqScope.Write(s, a.VdeviceId, TsmReqScope.PciStateChange, 4, 0, payload, 0);
        else IommuVdeviceTsmReqOpArch.Write(s, a.VdeviceId, TsmReqOp.SetTdiState, TvmArch.Cca, 4, 0, payload, 0);
        return (p, a.IommuFd, a.Calls.Scratch.Put(s));
    }

    [Benchmark(Baseline = true, Description = "TSM_REQ op-arch, immediate TSM")]
    public long OpArch() => vmm.Ioctl(iommuFd, IommufdIoctl.VdeviceTsmReq, reqStruct);

    [Benchmark(Description = "TSM_REQ scope (classified), immediate TSM")]
    public long Scope() => scopeVmm.Ioctl(scopeFd, IommufdIoctl.VdeviceTsmReq, scopeStruct);
}
