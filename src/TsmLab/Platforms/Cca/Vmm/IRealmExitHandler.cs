namespace TsmLab.Platforms.Cca.Vmm;

/// <summary>
/// The VMM's side of KVM_RUN for a realm vCPU: KVM_RUN returned to user space with
/// <c>kvm_run</c> (mapped at <c>kvmRunHva</c> in the VMM's memory) describing the
/// exit; the VMM handles it and writes its answer into the same page before re-entering.
/// </summary>
public interface IRealmExitHandler
{
    void HandleExit(ulong kvmRunHva);
}
