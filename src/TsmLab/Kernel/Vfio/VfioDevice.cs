using TsmLab.Kernel.Pci;

namespace TsmLab.Kernel.Vfio;

/// <summary>
/// A PCI function bound to vfio-pci, with its cdev <c>/dev/vfio/devices/vfioN</c>
/// (<c>struct vfio_device</c>). Only one open file may be bound to an iommufd at a time.
/// </summary>
public sealed class VfioDevice
{
    internal VfioDevice(int index, PciFunction function)
    {
        Index = index;
        Function = function;
    }

    public int Index { get; }
    public PciFunction Function { get; }
    public string Path => $"/dev/vfio/devices/vfio{Index}";
    /// <summary><c>open_count</c>: files of this device currently bound; guarded by <see cref="DevLock"/>.</summary>
    internal int OpenCount { get; set; }
    /// <summary><c>dev_set->lock</c>: serialises bind, attach and unbind of every file of this device.</summary>
    internal Lock DevLock { get; } = new();
}
