using TsmLab.Kernel.Pci;

namespace TsmLab.Kernel.Tsm;

/// <summary>
/// What Linux keeps in <c>struct pci_tsm_pf0</c> for a device's DSM: the connected link TSM,
/// the mutex that serialises guest requests, bind and unbind for all functions of the device,
/// and (TsmLab) the kernel buffer a request payload is copied into once.
/// Locking: <see cref="ConnectedTsm"/> and <see cref="RequestBuffer"/> change only under the TSM
/// core's rwsem held for write; <see cref="Mutex"/> (<c>pci_tsm_pf0.lock</c>) guards every
/// function's bound TDI, the request buffer's contents and the platform's per-TDI state during a
/// request, bind or unbind. VFs of one PF therefore serialise on it, as in Linux; different PFs
/// never take each other's.
/// </summary>
internal sealed class DsmState
{
    public DsmState(PciFunction dsm) => Dsm = dsm;

    public PciFunction Dsm { get; }
    public TsmDev? ConnectedTsm { get; set; }
    public Lock Mutex { get; } = new();
    public byte[] RequestBuffer { get; set; } = [];
    /// <summary>Why the last connect failed (null after a success or before any attempt); changes under the rwsem held for write.</summary>
    public string? ConnectFailure { get; set; }
}
