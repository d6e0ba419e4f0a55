namespace TsmLab.Platforms.SevTio.Vmm;

/// <summary>
/// The VMM's side of KVM_RUN for an SNP vCPU: KVM_RUN returned to user space with <c>kvm_run</c>
/// (mapped at <c>kvmRunHva</c> in the VMM's memory) naming a forwarded VMGEXIT and its GHCB; the
/// VMM answers in the GHCB page in guest memory before re-entering.
/// </summary>
public interface ISevExitHandler
{
    void HandleExit(ulong kvmRunHva);
}
