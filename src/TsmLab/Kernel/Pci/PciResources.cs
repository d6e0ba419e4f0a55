namespace TsmLab.Kernel.Pci;

/// <summary>One memory resource of a function as enumeration found it: BAR index, bus address and size.</summary>
public readonly record struct PciResource(int Bar, ulong Start, ulong Size)
{
    public ulong End => Start + Size;

    /// <summary>True when [start, start + length) lies inside this resource (checked arithmetic: no wrap).</summary>
    public bool Contains(ulong start, ulong length) =>
        length != 0 && start >= Start && start - Start <= Size && length <= Size - (start - Start);
}

/// <summary>
/// Reads a function's memory BARs from configuration space the way enumeration does
/// (Linux <c>__pci_read_base</c>, <c>sriov_init</c>): a PF's BAR is sized by writing all ones and
/// reading back the hard-wired zero bits, then restored; a VF's BARs come from its PF's SR-IOV
/// capability, VF n at the VF BAR base plus n times the VF BAR size [P1]. Done once at boot, as
/// Linux caches <c>pci_dev-&gt;resource</c>; later sizing writes would disturb a locked TDI.
/// </summary>
public static class PciResources
{
    /// <summary>The memory BARs of a function that is not a VF.</summary>
    public static IReadOnlyList<PciResource> OfFunction(PciConfigSpace config) => Probe(config, PciConfigSpace.Bar0Offset, 0);

    /// <summary>The memory BARs of VF <paramref name="vfIndex"/> of the PF whose config space is <paramref name="pf"/>; empty without SR-IOV.</summary>
    public static IReadOnlyList<PciResource> OfVirtualFunction(PciConfigSpace pf, int vfIndex)
    {
        int cap = pf.FindExtendedCapability(PciConfigSpace.SriovExtendedCapabilityId);
        if (cap == 0 || vfIndex < 0 || vfIndex >= pf.Read16(cap + PciConfigSpace.SriovNumVfs)) return [];
        return Probe(pf, cap + PciConfigSpace.SriovVfBar0, (ulong)vfIndex);
    }

    /// <summary>The VF index of routing ID <paramref name="rid"/> under a PF at <paramref name="pfRid"/>, or -1.</summary>
    public static int VfIndexOf(PciConfigSpace pf, ushort pfRid, ushort rid)
    {
        int cap = pf.FindExtendedCapability(PciConfigSpace.SriovExtendedCapabilityId);
        if (cap == 0) return -1;
        int first = pfRid + pf.Read16(cap + PciConfigSpace.SriovFirstVfOffset), stride = pf.Read16(cap + PciConfigSpace.SriovVfStride);
        int count = pf.Read16(cap + PciConfigSpace.SriovNumVfs);
        int delta = rid - first;
        if (delta < 0 || stride == 0 && delta != 0) return -1;
        int n = stride == 0 ? 0 : delta / stride;
        return (stride == 0 || delta % stride == 0) && n < count ? n : -1;
    }

    private static List<PciResource> Probe(PciConfigSpace c, int bar0, ulong multiple)
    {
        var list = new List<PciResource>();
        for (int i = 0; i < 6; i++)
        {
            int at = bar0 + 4 * i;
            uint low = c.Read32(at);
            if ((low & 1) != 0) continue; // I/O space: not modelled
            bool is64 = ((low >> 1) & 3) == 2;
            if (is64 && i == 5) break;
            uint high = is64 ? c.Read32(at + 4) : 0;
            c.Write32(at, uint.MaxValue);
            uint lowMask = c.Read32(at);
            c.Write32(at, low);
            uint highMask = uint.MaxValue;
            if (is64)
            {
                c.Write32(at + 4, uint.MaxValue);
                highMask = c.Read32(at + 4);
                c.Write32(at + 4, high);
            }
            ulong mask = ((ulong)highMask << 32 | (lowMask & 0xFFFF_FFF0u)) & (is64 ? ulong.MaxValue : 0xFFFF_FFFFu);
            if ((mask & 0xFFFF_FFF0u) == 0 && (!is64 || highMask == 0)) { if (is64) i++; continue; }
            ulong size = (~mask + 1) & (is64 ? ulong.MaxValue : 0xFFFF_FFFFu);
            ulong start = ((ulong)high << 32 | (low & 0xFFFF_FFF0u)) + multiple * size;
            list.Add(new PciResource(i, start, size));
            if (is64) i++;
        }
        return list;
    }
}
