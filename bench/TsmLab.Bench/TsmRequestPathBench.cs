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
/// once, and the struct copy-back. Target: below one real syscall, zero allocation, and the same
/// cost whether the VMM holds 1 or 4096 vDevices (<see cref="VDevices"/>: one VM, one iommufd and
/// vIOMMU, every function of a device with VDevices − 1 VFs assigned and bound; the request goes
/// to the last).
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

    [Params(1, 4096)]
    public int VDevices { get; set; } = 1;

    [GlobalSetup]
    public void Setup()
    {
        (vmm, iommuFd, reqStruct) = Assign(TsmAbiProfile.OpArch);
        (scopeVmm, scopeFd, scopeStruct) = Assign(TsmAbiProfile.Scope);
    }

    private (Process, int, ulong) Assign(TsmAbiProfile profile)
    {
        var d = Tdisp.Device.DeviceConfiguration.Default;
        var config = new HostConfiguration
        {
            Name = "bench", Arch = HostArch.Arm64, VmTypes = [new ConfidentialVmType(KvmVmType.ArmRealm, TvmArch.Cca)], Iommu = HostIommu.ArmSmmuV3Realm, Profile = profile,
            Functions = VDevices == 1 ? BuiltInHosts.DefaultDeviceFunctions() : BuiltInHosts.FunctionsOf(d with { Sriov = d.Sriov! with { Count = VDevices - 1 } }),
            Tsms = [new TsmSpec("bench", (_, _) => new ImmediateTsm(TvmArch.Cca))],
            Connects = [(new PciAddress(0, 1, 0, 0), "tsm0")],
        };
        var kernel = HostKernel.Boot(config);
        var p = kernel.CreateProcess();
        if (VDevices == 1)
        {
            var a = new DeviceAssignment(p, new AssignmentPlan("/dev/vfio/devices/vfio0", KvmVmType.ArmRealm, 3, new PciAddress(0, 0, 3, 0)));
            if (!a.Prepare() || !a.Bind()) throw new InvalidOperationException("assignment failed");
            return (p, a.IommuFd, Request(a.Calls, a.VdeviceId, profile));
        }
        // One VM with every function assigned: past fd 1023, so the VMM raises RLIMIT_NOFILE's soft limit first.
        CcaStructs.Check(p.GetRlimit(ResourceLimits.Nofile, out var limit), "getrlimit");
        CcaStructs.Check(p.SetRlimit(ResourceLimits.Nofile, limit with { Soft = limit.Hard }), "setrlimit");
        var scratch = new ScratchMemory(p);
        var calls = new IommufdCalls(p, scratch);
        int iommu = p.Open("/dev/iommu"), kvm = p.Open("/dev/kvm");
        int vm = (int)calls.CreateVm(kvm, KvmVmType.ArmRealm);
        CcaStructs.Check(calls.CreateVfioKvmDevice(vm, out int kvmVfio), "KVM_CREATE_DEVICE");
        CcaStructs.Check(calls.IoasAlloc(iommu, out uint ioas), "IOAS_ALLOC");
        uint hwpt = 0, viommu = 0, vdev = 0;
        for (int i = 0; i < VDevices; i++)
        {
            scratch.Reset();
            int vfio = p.Open($"/dev/vfio/devices/vfio{i}");
            CcaStructs.Check(vfio, "open vfio");
            CcaStructs.Check(calls.AddVfioFile(kvmVfio, vfio), "FILE_ADD");
            CcaStructs.Check(calls.BindIommufd(vfio, iommu, out uint dev), "BIND_IOMMUFD");
            if (i == 0)
            {
                CcaStructs.Check(calls.HwptAlloc(iommu, dev, ioas, IommuHwptAlloc.FlagNestParent, out hwpt), "HWPT_ALLOC");
                CcaStructs.Check(calls.ViommuAlloc(iommu, 3, dev, hwpt, out viommu), "VIOMMU_ALLOC");
            }
            CcaStructs.Check(calls.AttachPt(vfio, hwpt, out _), "ATTACH_PT");
            CcaStructs.Check(calls.VdeviceAlloc(iommu, viommu, dev, (ulong)(0x18 + i), out vdev), "VDEVICE_ALLOC");
            CcaStructs.Check(calls.TsmOp(iommu, vdev, IommuVdeviceTsmOp.TypeBind), "TSM_OP(BIND)");
        }
        scratch.Reset();
        return (p, iommu, Request(calls, vdev, profile));
    }

    /// <summary>The request struct (SET_TDI_STATE, or the STATE_CHANGE scope) and its 4-byte payload, in the VMM's memory.</summary>
    private static ulong Request(IommufdCalls calls, uint vdev, TsmAbiProfile profile)
    {
        ulong payload = calls.Scratch.Put(BitConverter.GetBytes(1u));
        var s = new byte[profile == TsmAbiProfile.Scope ? IommuVdeviceTsmReqScope.SizeOf : IommuVdeviceTsmReqOpArch.SizeOf];
        if (profile == TsmAbiProfile.Scope) IommuVdeviceTsmReqScope.Write(s, vdev, TsmReqScope.PciStateChange, 4, 0, payload, 0);
        else IommuVdeviceTsmReqOpArch.Write(s, vdev, TsmReqOp.SetTdiState, TvmArch.Cca, 4, 0, payload, 0);
        return calls.Scratch.Put(s);
    }

    [Benchmark(Baseline = true, Description = "TSM_REQ op-arch, immediate TSM")]
    public long OpArch() => vmm.Ioctl(iommuFd, IommufdIoctl.VdeviceTsmReq, reqStruct);

    [Benchmark(Description = "TSM_REQ scope (classified), immediate TSM")]
    public long Scope() => scopeVmm.Ioctl(scopeFd, IommufdIoctl.VdeviceTsmReq, scopeStruct);

    /// <summary>The anchor: one real system call (getppid) on this machine, in the same run.</summary>
    [Benchmark(Description = "anchor: getppid(2), a real syscall")]
    public long Syscall() => TsmLab.Linux.Sys.Call(TsmLab.Linux.SysNr.Getppid);
}
