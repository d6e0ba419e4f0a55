using TsmLab.Kernel;

namespace TsmLab.Run;

/// <summary>
/// Which absolute paths the host model owns under <c>tsmlab run</c>: <c>/dev/iommu</c>,
/// <c>/dev/kvm</c>, everything under <c>/dev/vfio/devices/</c> and <c>/sys/class/tsm/</c>, and
/// the TSM attributes (<c>tsm/…</c>, <c>authenticated</c>) of the model's PCI functions under
/// <c>/sys/bus/pci/devices/</c>. Opening an owned path that the model does not have is ENOENT;
/// every other path belongs to the real system.
/// </summary>
public static class ModelPaths
{
    private const string VfioDevices = "/dev/vfio/devices/";
    private const string ClassTsm = "/sys/class/tsm/";
    private const string PciDevices = "/sys/bus/pci/devices/";

    /// <summary>What an owned path is.</summary>
    public enum Kind { NotOurs, DeviceNode, Sysfs }

    /// <summary>Classifies a normalised absolute path.</summary>
    public static Kind Classify(HostKernel kernel, string path)
    {
        if (path is "/dev/iommu" or "/dev/kvm" || path.StartsWith(VfioDevices, StringComparison.Ordinal)) return Kind.DeviceNode;
        if (path.StartsWith(ClassTsm, StringComparison.Ordinal)) return Kind.Sysfs;
        if (path.StartsWith(PciDevices, StringComparison.Ordinal))
        {
            var rest = path.AsSpan(PciDevices.Length);
            int slash = rest.IndexOf('/');
            if (slash < 0) return Kind.NotOurs;
            var bdf = rest[..slash];
            var leaf = rest[(slash + 1)..];
            foreach (var fn in kernel.Functions)
                if (bdf.SequenceEqual(fn.Address.ToString()) && (leaf.StartsWith("tsm/") || leaf.SequenceEqual("authenticated")))
                    return Kind.Sysfs;
        }
        return Kind.NotOurs;
    }

    /// <summary>True when an owned device node exists in the model (what access(2) and stat see).</summary>
    public static bool DeviceNodeExists(HostKernel kernel, string path)
    {
        if (path is "/dev/iommu" or "/dev/kvm") return true;
        return kernel.VfioDevices.Any(d => d.Path == path);
    }

    /// <summary>
    /// Resolves a path the way the kernel's lookup treats "." and ".." and repeated slashes
    /// (symbolic links are not followed: the model's paths contain none). <paramref name="baseDir"/>
    /// is the directory a relative path starts from.
    /// </summary>
    public static string Normalize(string path, string baseDir)
    {
        string full = path.StartsWith('/') ? path : baseDir.TrimEnd('/') + "/" + path;
        var parts = new List<string>();
        foreach (var seg in full.Split('/'))
        {
            if (seg.Length == 0 || seg == ".") continue;
            if (seg == "..")
            {
                if (parts.Count > 0) parts.RemoveAt(parts.Count - 1);
                continue;
            }
            parts.Add(seg);
        }
        return "/" + string.Join('/', parts);
    }
}
