namespace TsmLab.Platforms.Cca.Abi;

/// <summary>
/// The parts of <c>struct kvm_run</c> a realm VMM reads (include/uapi/linux/kvm.h): exit_reason
/// u32 @8 and the exit union @32. KVM_EXIT_HYPERCALL (3): nr u64 @32, args[6] @40, ret @88,
/// flags @96. KVM_EXIT_ARM64_TIO (44) <c>cca_exit</c> (Sz 56, all u64) [A7]: flags @32, nr @40,
/// vdev_id @48, gpa_base @56, gpa_top @64 (in/out, exclusive), pa_base @72, response @80.
/// </summary>
/// <remarks>
/// TsmLab definition: for a forwarded SMCCC call, Linux leaves x0-x17 in the vCPU's registers
/// (read and written with KVM_GET/SET_ONE_REG). The model has no vCPU fd, so KVM copies x0-x5
/// into <c>args[0..5]</c> on exit and takes x0-x3 back from <c>args[0..3]</c> on re-entry.
/// </remarks>
public static class KvmRunArm
{
    public const int Size = 4096;
    public const int ExitReason = 8;
    public const uint ExitHypercall = 3, ExitArm64Tio = 44;

    public const int HypercallNr = 32, HypercallArgs = 40, HypercallRet = 88, HypercallFlags = 96;

    public const int CcaFlags = 32, CcaNr = 40, CcaVdevId = 48, CcaGpaBase = 56, CcaGpaTop = 64, CcaPaBase = 72, CcaResponse = 80;
}
