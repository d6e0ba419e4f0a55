using TsmLab.Abi;
using TsmLab.Kernel.Pci;

namespace TsmLab.Kernel;

/// <summary>
/// The sysfs attributes of the TSM core (DW3; drivers/pci/tsm.c, drivers/virt/coco/tsm-core.c):
/// <c>/sys/class/tsm/tsmN</c> for each registered TSM and, on functions of a device with a DSM
/// once a link TSM exists, the PCI <c>tsm/</c> group: <c>connect</c> (PF0, read-write),
/// <c>disconnect</c> (PF0, write-only), <c>dsm</c> (read-only), <c>bound</c> (TEE-capable
/// functions, read-only), and <c>authenticated</c> (PF0, outside the group). Reading a
/// write-only or writing a read-only attribute is EACCES, as opening it with that mode is.
/// </summary>
public sealed class Sysfs
{
    private readonly HostKernel kernel;

    internal Sysfs(HostKernel kernel) => this.kernel = kernel;

    private enum Attr { Connect, Disconnect, Dsm, Bound, Authenticated }

    /// <summary>Every attribute path that exists now, in a stable order.</summary>
    public IEnumerable<string> Paths()
    {
        foreach (var t in kernel.Tsm.Devices) yield return $"/sys/class/tsm/{t.Name}";
        foreach (var fn in kernel.Functions)
            foreach (var a in Enum.GetValues<Attr>())
                if (Exists(fn, a)) yield return PathOf(fn, a);
    }

    /// <summary>Reads an attribute: its text with a trailing newline, or -ENOENT / -EACCES.</summary>
    public int Read(string path, out string value)
    {
        value = "";
        if (path.StartsWith("/sys/class/tsm/", StringComparison.Ordinal))
        {
            var tsm = kernel.Tsm.Devices.FirstOrDefault(t => path == $"/sys/class/tsm/{t.Name}/device");
            if (tsm is null) return Errno.ENOENT.Neg();
            value = tsm.Parent + "\n";
            return 0;
        }
        if (!TryResolve(path, out var fn, out var attr)) return Errno.ENOENT.Neg();
        switch (attr)
        {
            case Attr.Connect:
            case Attr.Authenticated:
                value = (fn.ConnectedTsm?.Name ?? "") + "\n";
                return 0;
            case Attr.Dsm:
                value = fn.Dsm.Address + "\n";
                return 0;
            case Attr.Bound:
                value = (fn.Tdi?.Tsm.Name ?? "") + "\n";
                return 0;
            default:
                return Errno.EACCES.Neg();
        }
    }

    /// <summary>Writes an attribute: 0, or the errno of the store (connect/disconnect) or of the open.</summary>
    public int Write(string path, string value)
    {
        if (!TryResolve(path, out var fn, out var attr)) return Errno.ENOENT.Neg();
        return attr switch
        {
            Attr.Connect => kernel.Tsm.Connect(fn, value),
            Attr.Disconnect => kernel.Tsm.Disconnect(fn, value),
            _ => Errno.EACCES.Neg(),
        };
    }

    private bool Exists(PciFunction fn, Attr a)
    {
        if (!kernel.Tsm.Devices.Any()) return false;
        return a switch
        {
            Attr.Connect or Attr.Disconnect or Attr.Authenticated => fn.IsDsm,
            Attr.Dsm => true,
            Attr.Bound => fn.TeeCapable,
            _ => false,
        };
    }

    private static string PathOf(PciFunction fn, Attr a) => a switch
    {
        Attr.Authenticated => $"/sys/bus/pci/devices/{fn.Address}/authenticated",
        _ => $"/sys/bus/pci/devices/{fn.Address}/tsm/{a.ToString().ToLowerInvariant()}",
    };

    private bool TryResolve(string path, out PciFunction fn, out Attr attr)
    {
        foreach (var f in kernel.Functions)
            foreach (var a in Enum.GetValues<Attr>())
                if (Exists(f, a) && PathOf(f, a) == path)
                {
                    fn = f;
                    attr = a;
                    return true;
                }
        fn = null!;
        attr = default;
        return false;
    }
}
