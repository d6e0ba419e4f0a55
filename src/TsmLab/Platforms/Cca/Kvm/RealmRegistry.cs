using System.Runtime.CompilerServices;
using TsmLab.Hardware;
using TsmLab.Kernel;
using TsmLab.Kernel.Kvm;
using TsmLab.Platforms.Cca.Abi;
using TsmLab.Platforms.Cca.Firmware;

namespace TsmLab.Platforms.Cca.Kvm;

/// <summary>
/// KVM's realm side (arch/arm64/kvm/rme.c), as far as the model needs it: the RD of each realm
/// VM, created with RMI_REALM_CREATE the first time the VM needs one (the kernel model's
/// KVM_CREATE_VM does not call the RMM), and its RECs (RMI_REC_CREATE) with their run pages.
/// One per booted host, reaching the machine's RMM directly (KVM is handed the firmware; it does
/// not go through the TSM driver). Thread safety: one lock guards the RD map.
/// </summary>
public sealed class RealmRegistry(CcaRmm rmm, PhysicalMemory memory)
{
    private static readonly ConditionalWeakTable<HostKernel, RealmRegistry> PerKernel = new();
    private readonly Dictionary<KvmVm, ulong> rds = new();
    private readonly Lock gate = new();

    /// <summary>KVM's realm side of a booted CCA host (created with the kernel's first realm need).</summary>
    public static RealmRegistry Of(HostKernel kernel) =>
        PerKernel.GetValue(kernel, k => new RealmRegistry(k.Machine.FirmwareAs<CcaRmm>(), k.Machine.Memory));

    /// <summary>The machine's RMM.</summary>
    public CcaRmm Rmm => rmm;

    /// <summary>The machine's physical memory.</summary>
    public PhysicalMemory Memory => memory;

    /// <summary>The VM's RD, creating the realm on first use; 0 when the VM is not a realm or the RMM refuses.</summary>
    public ulong RdFor(KvmVm vm)
    {
        lock (gate)
        {
            if (rds.TryGetValue(vm, out ulong rd)) return rd;
            if (vm.Arch != TsmLab.Abi.TvmArch.Cca) return 0;
            rd = memory.Allocate();
            if (Call(rmm, Rmi.RealmCreate, rd) != RmiStatus.Success) { memory.Free(rd); return 0; }
            rds[vm] = rd;
            return rd;
        }
    }

    /// <summary>RMI_REC_CREATE for a vCPU of the VM; returns (rec, run page) or (0, 0).</summary>
    public (ulong Rec, ulong Run) CreateRec(KvmVm vm)
    {
        ulong rd = RdFor(vm);
        if (rd == 0) return (0, 0);
        ulong rec = memory.Allocate(), run = memory.Allocate(), prm = memory.Allocate();
        var rc = Call(rmm, Rmi.RecCreate, rd, rec, prm);
        memory.Free(prm);
        if (rc != RmiStatus.Success) return (0, 0);
        return (rec, run);
    }

    /// <summary>One SMC to the RMM: x0 = FID, x1.. = arguments; returns the status.</summary>
    internal static RmiStatus Call(CcaRmm rmm, ulong fid, ulong a1 = 0, ulong a2 = 0, ulong a3 = 0, ulong a4 = 0, ulong a5 = 0, ulong a6 = 0) =>
        Call(rmm, fid, out _, a1, a2, a3, a4, a5, a6);

    internal static RmiStatus Call(CcaRmm rmm, ulong fid, out ulong x1, ulong a1 = 0, ulong a2 = 0, ulong a3 = 0, ulong a4 = 0, ulong a5 = 0, ulong a6 = 0)
    {
        Span<ulong> x = [fid, a1, a2, a3, a4, a5, a6, 0];
        rmm.Rmi(x);
        x1 = x[1];
        return (RmiStatus)x[0];
    }
}
