namespace TsmLab.Platforms.SevTio.Abi;

/// <summary>
/// The parts of <c>struct kvm_run</c> an SEV-TIO VMM reads: exit_reason u32 @8 and the exit union
/// @32 (include/uapi/linux/kvm.h).
/// </summary>
/// <remarks>
/// TsmLab definition: no public KVM series shows how KVM hands an SEV-TIO VMGEXIT to user space.
/// TsmLab uses its own exit reason, <see cref="ExitSevTio"/>, chosen far above Linux's exit numbers
/// so that it aliases none of them, with <c>sev_tio { u64 exit_code @32; u64 ghcb_gpa @40; }</c>. The
/// VMM reads and answers the GHCB itself in guest memory (the page is shared, so the VMM's mapping
/// of guest RAM sees it), as a VMM does for the exits KVM forwards with their GHCB.
/// </remarks>
public static class KvmRunSevTio
{
    public const int Size = 4096;
    public const int ExitReason = 8;
    public const uint ExitSevTio = 0x5E70_0001;
    public const int ExitCode = 32, GhcbGpa = 40;
}
