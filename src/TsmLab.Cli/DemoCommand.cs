using System.CommandLine;
using TsmLab.Abi;
using TsmLab.Kernel;
using TsmLab.Kernel.Pci;
using TsmLab.Vmm;

namespace TsmLab.Cli;

/// <summary>
/// <c>tsmlab demo [--host NAME] [--profile P]</c>: runs the VMM's assignment sequence on a
/// built-in host and shows every call, what TSM_INFO discovered, and where the TSM path ends.
/// Exits 0 when every call answered as that host must (on a host without a platform TSM,
/// bind is EINVAL and a request ENXIO, as Linux answers), 1 otherwise.
/// </summary>
internal static class DemoCommand
{
    public static Command Create(CliIo io)
    {
        var host = new HostOptions();
        var trace = new TraceOption();
        var cmd = new Command("demo", "Run the device assignment on a built-in host and show what the kernel answered");
        host.AddTo(cmd);
        trace.AddTo(cmd);
        cmd.SetAction(pr =>
        {
            var kernel = host.Boot(pr, io.Error);
            if (kernel is null) return Program.UsageError;
            var log = trace.Attach(pr, kernel);
            int rc = Run(kernel, io.Out, out var steps);
            var rows = steps.Select(s => (IReadOnlyList<string>)[s.Name, s.Call, s.ResultText, s.Detail]).ToList();
            return trace.Write(pr, log, io.Error, $"tsmlab demo on host {kernel.Configuration.Name}", ["step", "call", "result", "detail"], rows) ? rc : Program.UsageError;
        });
        return cmd;
    }

    internal static int Run(HostKernel kernel, TextWriter o, out IReadOnlyList<AssignmentStep> steps)
    {
        steps = [];
        var c = kernel.Configuration;
        ulong vmType = c.Rmm ? KvmVmType.ArmRealm : c.SevSnp ? KvmVmType.X86SnpVm : c.Tdx ? KvmVmType.X86TdxVm : KvmVmType.X86Default;
        var vfio = kernel.VfioDevices.FirstOrDefault(v => v.Function.TeeCapable);
        if (vfio is null)
        {
            o.WriteLine($"host {c.Name} has no assignable TDISP function");
            return 1;
        }
        var plan = new AssignmentPlan(vfio.Path, vmType, IommuViommuAlloc.TypeArmRealmSmmuV3OrAmd, new PciAddress(0, 0, 3, 0));
        var vmm = kernel.CreateProcess();
        var a = new DeviceAssignment(vmm, plan);
        o.WriteLine($"host {c.Name}: {c.Description}");
        o.WriteLine($"assigning {vfio.Function.Address} ({vfio.Path}) to a VM of type 0x{vmType:x} as guest {plan.GuestAddress} (virt_id 0x{plan.VirtId:x}), TSM_REQ profile {c.Profile.Name()}");
        bool prepared = a.Prepare();
        steps = a.Steps;
        bool expected = prepared;
        if (prepared)
        {
            var info = a.Info!.Value;
            bool hasTsm = info.Connected && info.TvmArch != TvmArch.None;
            bool bound = a.Bind();
            var arch = info.TvmArch == TvmArch.None ? TvmArch.Sev : info.TvmArch;
            long rc = c.Profile == TsmAbiProfile.Scope
                ? a.Calls.TsmRequestScoped(a.IommuFd, a.VdeviceId, TsmReqScope.PciInfo, new byte[4], 4, out _)
                : a.Calls.TsmRequest(a.IommuFd, a.VdeviceId, TsmReqOp.SetTdiState, arch, BitConverter.GetBytes(1u), 0, out _, out _);
            a.Record("guest request", c.Profile == TsmAbiProfile.Scope ? "IOMMU_VDEVICE_TSM_REQ(scope=PCI_INFO)" : $"IOMMU_VDEVICE_TSM_REQ(op=SET_TDI_STATE, tvm_arch={arch})", rc);
            expected = hasTsm ? bound : !bound && rc == -(int)Errno.ENXIO;
        }
        foreach (var s in a.Steps)
            o.WriteLine($"  {(s.Ok ? "ok  " : "fail")} {s.Call,-52} -> {s.ResultText}{(s.Detail.Length > 0 ? "  " + s.Detail : "")}");
        if (a.Info is { } d)
        {
            o.WriteLine(d.Connected
                ? $"discovered: vDevice {a.VdeviceId} is backed by {d.TsmName} ({d.TvmArch}), ops 0x{d.SupportedOps:x}, max request {d.MaxRequestLength} B"
                : $"discovered: vDevice {a.VdeviceId} (VM arch {d.TvmArch}) has no TSM behind it: the host connected no link TSM, so bind is EINVAL and requests end in ENXIO");
        }
        o.WriteLine(expected ? "result: every call answered as this host must" : "result: unexpected answer (see above)");
        return expected ? 0 : 1;
    }
}
