using TsmLab.Kernel.Kvm;
using TsmLab.Kernel.Pci;

namespace TsmLab.Kernel.Tsm;

/// <summary>
/// A bound TDI (<c>struct pci_tdi</c>): the function, the VM it is bound to, the guest's
/// requester id for it (the vDevice's virt_id), the TSM, and the platform's private state.
/// </summary>
public sealed class TsmTdi
{
    internal TsmTdi(PciFunction function, KvmVm vm, ulong virtId, TsmDev tsm)
    {
        Function = function;
        Vm = vm;
        VirtId = virtId;
        Tsm = tsm;
    }

    public PciFunction Function { get; }
    public KvmVm Vm { get; }
    /// <summary>The guest-visible requester id (vDevice virt_id), used as the TDI id.</summary>
    public ulong VirtId { get; }
    public TsmDev Tsm { get; }
    /// <summary>Whatever the platform keeps for this TDI.</summary>
    public object? PlatformState { get; set; }
}
