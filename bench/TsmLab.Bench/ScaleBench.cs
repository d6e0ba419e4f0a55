using BenchmarkDotNet.Attributes;
using TsmLab.Abi;
using TsmLab.Kernel;
using TsmLab.Kernel.Pci;
using TsmLab.Platforms.Cca;
using TsmLab.Platforms.SevTio;
using TsmLab.Platforms.Tdx;
using TsmLab.Platforms.Tdx.Abi;
using TsmLab.Platforms.Tdx.Firmware;
using TsmLab.Platforms.Tdx.HostDriver;
using TsmLab.Platforms.Tdx.Kvm;
using TsmLab.Tdisp.Device;
using TsmLab.Tdisp.Wire;
using TsmLab.Vmm;

namespace TsmLab.Bench;

/// <summary>
/// Flat at scale (issue 15 §2): the repeatable TDI cycle TSM_OP(BIND) + TSM_REQ(SET_TDI_STATE,
/// RUN) + TSM_OP(UNBIND) on every platform's built-in host, whose device has
/// <see cref="Functions"/> functions (the PF and Functions − 1 SR-IOV VFs, every one a TDI). The
/// VMM assigns the last VF (the end of every list a scan would walk). The cost must not depend on
/// <see cref="Functions"/>: every lookup on this path is by the natural id (RID, function id,
/// handle), never a scan over devices, TDIs or realms.
/// </summary>
[MemoryDiagnoser]
public class ScaleBench
{
    [Params("cca", "sev", "tdx")]
    public string Platform { get; set; } = "cca";

    [Params(2, 1024, 8192)]
    public int Functions { get; set; }

    private Process vmm = null!;
    private int fd;
    private ulong bind, run, unbind;
    private Action? tdStart;

    [GlobalSetup]
    public void Setup()
    {
        var d = DeviceConfiguration.Default;
        var device = new TdispPciDevice(d with { Sriov = d.Sriov! with { Count = Functions - 1 } });
        var (config, vmType, viommu, arch) = Platform switch
        {
            "cca" => (CcaHost.Configuration(TsmAbiProfile.OpArch, device), KvmVmType.ArmRealm, IommuViommuAlloc.TypeArmRealmSmmuV3OrAmd, TvmArch.Cca),
            "sev" => (SevTioHost.Configuration(device), KvmVmType.X86SnpVm, IommuViommuAlloc.TypeArmRealmSmmuV3OrAmd, TvmArch.Sev),
            "tdx" => (TdxHost.Configuration(device), KvmVmType.X86TdxVm, VtdIommu.ViommuTypeTdx, TvmArch.Tdx),
            _ => throw new ArgumentException(Platform),
        };
        var kernel = HostKernel.Boot(config);
        vmm = kernel.CreateProcess();
        var a = new DeviceAssignment(vmm, new AssignmentPlan($"/dev/vfio/devices/vfio{Functions - 1}", vmType, viommu, new PciAddress(0, 0, 3, 0)));
        if (!a.Prepare()) throw new InvalidOperationException("assignment failed: " + a.Steps[^1].Call + " " + a.Steps[^1].ResultText);
        fd = a.IommuFd;
        if (Platform == "tdx")
        {
            // TDX starts a TDI only after the TD asked (TDG.TDI.RD(BIND_SESSION_ID), TDG.TDI.START): the TD's two TDCALLs are part of the cycle.
            var module = kernel.Machine.FirmwareAs<TdxModule>()!;
            ulong tdr = TdRegistry.Of(kernel).TdrFor(kernel.Vms.Last());
            uint funcId = TdispFuncId.Of(kernel.VfioDevices[Functions - 1].Function.Address);
            var memory = new NoTdMemory();
            tdStart = () =>
            {
                var r = new TdxRegisters { Rax = TdxRegisters.LeafRax(TdxLeaves.TdiRead), Rcx = funcId, Rdx = TdiReadField.BindSessionId };
                module.Tdcall(tdr, ref r, memory);
                r = new TdxRegisters { Rax = TdxRegisters.LeafRax(TdxLeaves.TdiStartGuest), Rcx = funcId, Rdx = r.Rcx };
                module.Tdcall(tdr, ref r, memory);
            };
        }
        bind = CcaStructs.TsmOp(a.Calls, a.VdeviceId, IommuVdeviceTsmOp.TypeBind);
        run = CcaStructs.TsmReq(a.Calls, a.VdeviceId, TsmReqOp.SetTdiState, CcaStructs.U32((uint)TdiState.Run), arch: arch);
        unbind = CcaStructs.TsmOp(a.Calls, a.VdeviceId, IommuVdeviceTsmOp.TypeUnbind);
        CcaStructs.Check(vmm.Ioctl(fd, IommufdIoctl.VdeviceTsmOp, bind), "TSM_OP(BIND)");
        tdStart?.Invoke();
        CcaStructs.Check(vmm.Ioctl(fd, IommufdIoctl.VdeviceTsmReq, run), "SET_TDI_STATE(RUN)");
        CcaStructs.Check(vmm.Ioctl(fd, IommufdIoctl.VdeviceTsmOp, unbind), "TSM_OP(UNBIND)");
        if (BindRunUnbind() != 0) throw new InvalidOperationException("cycle failed");
    }

    [Benchmark(Description = "BIND + SET_TDI_STATE(RUN) + UNBIND")]
    public long BindRunUnbind()
    {
        long rc = vmm.Ioctl(fd, IommufdIoctl.VdeviceTsmOp, bind);
        tdStart?.Invoke();
        rc |= vmm.Ioctl(fd, IommufdIoctl.VdeviceTsmReq, run);
        rc |= vmm.Ioctl(fd, IommufdIoctl.VdeviceTsmOp, unbind);
        return rc;
    }

    /// <summary>The TD's memory for TDCALLs that write none.</summary>
    private sealed class NoTdMemory : ITdMemory
    {
        public bool Write(ulong gpa, ReadOnlySpan<byte> bytes) => false;
    }
}
