using TsmLab.Kernel.Pci;

namespace TsmLab.Kernel.Tsm;

/// <summary>
/// What Linux keeps in <c>struct pci_tsm_pf0</c> for a device's DSM: the connected link TSM,
/// the mutex that serialises guest requests, bind and unbind for all functions of the device,
/// and (TsmLab) the kernel buffer a request payload is copied into once.
/// </summary>
internal sealed class DsmState
{
    public DsmState(PciFunction dsm) => Dsm = dsm;

    public PciFunction Dsm { get; }
    public TsmDev? ConnectedTsm { get; set; }
    public Lock Mutex { get; } = new();
    public byte[] RequestBuffer { get; set; } = [];
}
