using System.Globalization;

namespace TsmLab.Kernel.Pci;

/// <summary>A PCI function's address: segment (domain), bus, device, function.</summary>
public readonly record struct PciAddress(ushort Segment, byte Bus, byte Device, byte Function)
{
    /// <summary>PCI_DEVID(bus, devfn): the 16-bit routing (requester) id.</summary>
    public ushort RequesterId => (ushort)((Bus << 8) | (Device << 3) | Function);

    /// <summary>
    /// The vDevice <c>virt_id</c> / RHI <c>vdev_id</c> encoding of a guest-visible function:
    /// <c>(segment &lt;&lt; 16) | PCI_DEVID(bus, devfn)</c> (linux-uapi.md §4, platforms §2.1).
    /// </summary>
    public uint GuestRid => ((uint)Segment << 16) | RequesterId;

    /// <summary>"ssss:bb:dd.f", as sysfs names the device.</summary>
    public override string ToString() => $"{Segment:x4}:{Bus:x2}:{Device:x2}.{Function:x1}";

    /// <summary>Parses "ssss:bb:dd.f" (or "bb:dd.f" in segment 0).</summary>
    public static bool TryParse(string? text, out PciAddress address)
    {
        address = default;
        if (string.IsNullOrEmpty(text)) return false;
        var parts = text.Split(':');
        string seg = "0", bus, rest;
        if (parts.Length == 3) { seg = parts[0]; bus = parts[1]; rest = parts[2]; }
        else if (parts.Length == 2) { bus = parts[0]; rest = parts[1]; }
        else return false;
        var df = rest.Split('.');
        if (df.Length != 2) return false;
        if (!ushort.TryParse(seg, NumberStyles.HexNumber, null, out var s) ||
            !byte.TryParse(bus, NumberStyles.HexNumber, null, out var b) ||
            !byte.TryParse(df[0], NumberStyles.HexNumber, null, out var d) || d > 31 ||
            !byte.TryParse(df[1], NumberStyles.HexNumber, null, out var f) || f > 7)
            return false;
        address = new PciAddress(s, b, d, f);
        return true;
    }
}
