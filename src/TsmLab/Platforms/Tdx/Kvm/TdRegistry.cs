using System.Runtime.CompilerServices;
using TsmLab.Abi;
using TsmLab.Hardware;
using TsmLab.Kernel;
using TsmLab.Kernel.Kvm;
using TsmLab.Platforms.Tdx.Abi;
using TsmLab.Platforms.Tdx.Firmware;

namespace TsmLab.Platforms.Tdx.Kvm;

/// <summary>
/// KVM's TDX side (arch/x86/kvm/vmx/tdx.c) as far as device assignment needs it: the TDR of each
/// KVM_X86_TDX_VM (5) VM, created with TDH.MNG.CREATE (RCX = TDR PA, RDX = HKID) the first time
/// the VM needs one, and the TD's CONFIG_FLAGS with the TDX Connect opt-in (bit 5). One per booted
/// host, reaching the machine's TDX module directly (KVM is handed the firmware; it does not go
/// through the TSM driver). Thread safety: one lock guards the TDR map.
/// </summary>
public sealed class TdRegistry(TdxModule module, PhysicalMemory memory)
{
    private static readonly ConditionalWeakTable<HostKernel, TdRegistry> PerKernel = new();
    private readonly Dictionary<KvmVm, ulong> tdrs = new();
    private readonly Lock gate = new();

    /// <summary>KVM's TDX side of a booted TDX host.</summary>
    public static TdRegistry Of(HostKernel kernel) =>
        PerKernel.GetValue(kernel, k => new TdRegistry(k.Machine.FirmwareAs<TdxModule>(), k.Machine.Memory));

    public TdxModule Module => module;

    /// <summary>CONFIG_FLAGS given to TDs created from now on (TDX Connect by default; a test clears it).</summary>
    public ulong ConfigFlags { get; set; } = TdcsField.ConfigFlagTdxConnect;

    /// <summary>The VM's TDR, creating the TD on first use; 0 when the VM is not a TD or the module refuses.</summary>
    public ulong TdrFor(KvmVm vm)
    {
        lock (gate)
        {
            if (tdrs.TryGetValue(vm, out ulong tdr)) return tdr;
            if (vm.Arch != TvmArch.Tdx) return 0;
            tdr = memory.Allocate();
            var r = new TdxRegisters { Rax = TdxRegisters.LeafRax(TdxLeaves.MngCreate), Rcx = tdr, Rdx = (ulong)vm.Id };
            module.Seamcall(ref r);
            if (r.Rax != TdxStatus.Success) { memory.Free(tdr); return 0; }
            module.SetTdConfigFlags(tdr, ConfigFlags);
            tdrs[vm] = tdr;
            return tdr;
        }
    }
}
