using TsmLab.Platforms.Cca.Abi;

namespace TsmLab.Platforms.Cca.Rmm;

/// <summary>
/// The host's physical memory as granules, the medium of every RMI argument that is a
/// physical address (rd, pdev, vdev and rec handles, params pages, the REC run page, comm data
/// buffers). The host kernel allocates; the RMM reads and writes by address. Granule
/// delegation (RMI_GRANULE_DELEGATE) is not modelled.
/// </summary>
public sealed class PhysicalMemory
{
    /// <summary>Where the allocator starts (a DRAM address far from the device BARs).</summary>
    public const ulong Base = 0x8_8000_0000;

    private readonly Dictionary<ulong, byte[]> granules = new();
    private ulong next = Base;

    /// <summary>Allocates <paramref name="count"/> zeroed, contiguous granules; returns the first one's address.</summary>
    public ulong Allocate(int count = 1)
    {
        ulong pa = next;
        for (int i = 0; i < count; i++) granules[pa + (ulong)(i * Rmi.Granule)] = new byte[Rmi.Granule];
        next += (ulong)(count * Rmi.Granule);
        return pa;
    }

    /// <summary>Frees a granule (no effect on an unknown address).</summary>
    public void Free(ulong pa) => granules.Remove(pa);

    /// <summary>The granule at a granule-aligned address, or false.</summary>
    public bool TryGranule(ulong pa, out Span<byte> granule)
    {
        if ((pa & (Rmi.Granule - 1)) == 0 && granules.TryGetValue(pa, out var g)) { granule = g; return true; }
        granule = default;
        return false;
    }

    /// <summary>Reads <paramref name="destination"/>.Length bytes at <paramref name="pa"/> across granules; false on a hole.</summary>
    public bool Read(ulong pa, Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            ulong g = pa & ~(ulong)(Rmi.Granule - 1);
            int off = (int)(pa - g);
            if (!granules.TryGetValue(g, out var gr)) return false;
            int n = Math.Min(destination.Length, Rmi.Granule - off);
            gr.AsSpan(off, n).CopyTo(destination);
            destination = destination[n..];
            pa += (ulong)n;
        }
        return true;
    }

    /// <summary>Writes <paramref name="source"/> at <paramref name="pa"/> across granules; false on a hole (bytes before it are written).</summary>
    public bool Write(ulong pa, ReadOnlySpan<byte> source)
    {
        while (!source.IsEmpty)
        {
            ulong g = pa & ~(ulong)(Rmi.Granule - 1);
            int off = (int)(pa - g);
            if (!granules.TryGetValue(g, out var gr)) return false;
            int n = Math.Min(source.Length, Rmi.Granule - off);
            source[..n].CopyTo(gr.AsSpan(off, n));
            source = source[n..];
            pa += (ulong)n;
        }
        return true;
    }
}
