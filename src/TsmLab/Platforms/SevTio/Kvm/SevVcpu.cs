using System.Buffers.Binary;
using TsmLab.Kernel;
using TsmLab.Platforms.SevTio.Abi;
using TsmLab.Platforms.SevTio.Vmm;
using TsmLab.Vmm;

namespace TsmLab.Platforms.SevTio.Kvm;

/// <summary>How a guest's VMGEXIT reaches the hypervisor: the CPU exits with the GHCB's guest physical address (from the GHCB MSR).</summary>
public interface IVmgexit
{
    /// <summary>The guest executes VMGEXIT with its GHCB at <paramref name="ghcbGpa"/>; results are in that page on return.</summary>
    void Vmgexit(ulong ghcbGpa);
}

/// <summary>
/// An SNP vCPU as KVM runs it, for the exits device assignment needs (arch/x86/kvm/svm/sev.c's
/// <c>sev_handle_vmgexit</c>): KVM reads the GHCB page, refuses an exit whose sw_exit_code slot is
/// not marked valid (sw_exit_info_1 = 2, sw_exit_info_2 = GHCB_ERR_MISSING_INPUT) or that it does not
/// handle (GHCB_ERR_INVALID_EVENT), and hands the two SEV-TIO exits to the VMM through
/// <c>kvm_run</c> (<see cref="KvmRunSevTio"/>, a TsmLab definition). The model has no vCPU fd or
/// KVM_RUN ioctl: the session that creates the vCPU wires it to the VMM's exit handler.
/// </summary>
public sealed class SevVcpu(Process vmm, GuestRam ram, ulong kvmRunHva) : IVmgexit
{
    private readonly byte[] ghcb = new byte[GhcbPage.Size];

    /// <summary>Where forwarded exits go (a test may interpose a hostile VMM).</summary>
    public ISevExitHandler? Exits { get; set; }

    /// <summary>Exits handed to the VMM so far.</summary>
    public int ExitCount { get; private set; }

    public void Vmgexit(ulong ghcbGpa)
    {
        if (!ram.Read(ghcbGpa, ghcb)) return; // no GHCB in guest memory: KVM would terminate the guest; nothing to answer
        ulong code = BinaryPrimitives.ReadUInt64LittleEndian(ghcb.AsSpan(GhcbPage.SwExitCode));
        bool valid = GhcbPage.IsValid(ghcb, GhcbPage.SwExitCode);
        if (!valid || !SevTioExit.IsSevTio(code) || Exits is null)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(ghcb.AsSpan(GhcbPage.SwExitInfo1), GhcbPage.ResponseMalformedInput);
            BinaryPrimitives.WriteUInt64LittleEndian(ghcb.AsSpan(GhcbPage.SwExitInfo2), valid ? GhcbPage.ErrInvalidEvent : GhcbPage.ErrMissingInput);
            GhcbPage.MarkValid(ghcb, GhcbPage.SwExitInfo1);
            GhcbPage.MarkValid(ghcb, GhcbPage.SwExitInfo2);
            ram.Write(ghcbGpa, ghcb);
            return;
        }
        Span<byte> run = stackalloc byte[48];
        run.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(run[KvmRunSevTio.ExitReason..], KvmRunSevTio.ExitSevTio);
        BinaryPrimitives.WriteUInt64LittleEndian(run[KvmRunSevTio.ExitCode..], code);
        BinaryPrimitives.WriteUInt64LittleEndian(run[KvmRunSevTio.GhcbGpa..], ghcbGpa);
        vmm.Memory.CopyToUser(kvmRunHva, run);
        ExitCount++;
        Exits.HandleExit(kvmRunHva);
    }
}
