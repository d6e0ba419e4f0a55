namespace TsmLab.Platforms.Tdx.Vmm;

/// <summary>
/// The VMM's side of KVM_RUN for a TD vCPU: KVM_RUN returned with <c>kvm_run</c> (at
/// <c>kvmRunHva</c> in the VMM's memory) saying KVM_EXIT_TDX; the VMM serves the TDVMCALL and
/// writes its status into <c>tdx.unknown.ret</c> before re-entering.
/// </summary>
public interface ITdxExitHandler
{
    void HandleExit(ulong kvmRunHva);
}
