using System.Buffers.Binary;
using TsmLab.Kernel;
using TsmLab.Platforms.Tdx.Abi;
using TsmLab.Platforms.Tdx.Firmware;
using TsmLab.Platforms.Tdx.Vmm;
using TsmLab.Vmm;

namespace TsmLab.Platforms.Tdx.Kvm;

/// <summary>How a TD's TDCALL leaves the guest: the CPU enters the TDX module with the registers.</summary>
public interface ITdcall
{
    /// <summary>Executes TDCALL with <paramref name="r"/>; results are in <paramref name="r"/> on return.</summary>
    void Tdcall(ref TdxRegisters r);
}

/// <summary>
/// A TD vCPU as KVM runs it. TDCALLs other than TDG.VP.VMCALL are the module's business and go
/// straight to it. TDG.VP.VMCALL (leaf 0) exits to KVM (arch/x86/kvm/vmx/tdx.c): R10 = 0 selects
/// GHCI; KVM hands TDCM to the VMM as KVM_EXIT_TDX with nr = R11 and R12..R15 in
/// <c>tdx.unknown.data</c>, ret preset to SUBFUNC_UNSUPPORTED [TX31]; what the VMM leaves in ret
/// returns to the TD in R10. Any other sub-function: SUBFUNC_UNSUPPORTED. The model has no vCPU fd:
/// the session wires the vCPU to the VMM's exit handler.
/// </summary>
public sealed class TdVcpu(Process vmm, GuestRam ram, ulong kvmRunHva, TdxModule module, ulong tdr) : ITdcall, ITdMemory
{
    /// <summary>Where forwarded exits go (a test may interpose a hostile VMM).</summary>
    public ITdxExitHandler? Exits { get; set; }

    /// <summary>Exits handed to the VMM so far.</summary>
    public int ExitCount { get; private set; }

    /// <summary>The TD's TDR (KVM's handle for the TD).</summary>
    public ulong Tdr => tdr;

    public void Tdcall(ref TdxRegisters r)
    {
        if (r.Leaf != TdxLeaves.VpVmcall || r.Version != 0 || r.HasReservedRaxBits)
        {
            module.Tdcall(tdr, ref r, this);
            return;
        }
        r.Rax = TdxStatus.Success;
        if (r.R10 != 0 || r.R11 != Tdcm.SubFunction || Exits is null)
        {
            r.R10 = TdvmcallStatus.SubfuncUnsupported;
            return;
        }
        Span<byte> run = stackalloc byte[KvmRunTdx.Size];
        run.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(run[KvmRunTdx.ExitReason..], KvmRunTdx.ExitTdx);
        BinaryPrimitives.WriteUInt64LittleEndian(run[KvmRunTdx.Nr..], r.R11);
        BinaryPrimitives.WriteUInt64LittleEndian(run[KvmRunTdx.Ret..], TdvmcallStatus.SubfuncUnsupported);
        BinaryPrimitives.WriteUInt64LittleEndian(run[KvmRunTdx.Data..], r.R12);
        BinaryPrimitives.WriteUInt64LittleEndian(run[(KvmRunTdx.Data + 8)..], r.R13);
        BinaryPrimitives.WriteUInt64LittleEndian(run[(KvmRunTdx.Data + 16)..], r.R14);
        BinaryPrimitives.WriteUInt64LittleEndian(run[(KvmRunTdx.Data + 24)..], r.R15);
        if (vmm.Memory.CopyToUser(kvmRunHva, run) < 0) { r.R10 = TdvmcallStatus.InvalidOperand; return; }
        ExitCount++;
        Exits.HandleExit(kvmRunHva);
        r.R10 = vmm.Memory.CopyFromUser(run, kvmRunHva) < 0 ? TdvmcallStatus.InvalidOperand : BinaryPrimitives.ReadUInt64LittleEndian(run[KvmRunTdx.Ret..]);
    }

    bool ITdMemory.Write(ulong gpa, ReadOnlySpan<byte> bytes) => ram.Write(gpa, bytes);
}
