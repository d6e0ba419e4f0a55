namespace TsmLab.Hardware;

/// <summary>
/// A machine's physical memory as far as firmware sees it: regions the host kernel allocated
/// (command buffers, parameter pages, bounce pages, object buffers), each contiguous, named by
/// physical address, with an unmapped guard page after each so that an access running off a
/// region fails as a bus error would. The firmware reads and writes them by address, as it does
/// by DMA on the real machine. Thread safety: one lock guards the region map; the bytes of a
/// region are owned by whoever the kernel handed the region to.
/// </summary>
public sealed class PhysicalMemory
{
    /// <summary>The granule the allocator works in (4 KiB on every platform modelled).</summary>
    public const int PageSize = 4096;

    private readonly SortedList<ulong, byte[]> regions = [];
    private readonly Lock gate = new();
    private ulong next;

    /// <param name="dramBase">Where the allocator starts (a DRAM address far from device BARs).</param>
    public PhysicalMemory(ulong dramBase)
    {
        if ((dramBase & (PageSize - 1)) != 0) throw new ArgumentException("DRAM base must be page aligned", nameof(dramBase));
        Base = next = dramBase;
    }

    /// <summary>Where the allocator started.</summary>
    public ulong Base { get; }

    /// <summary>Allocates <paramref name="pages"/> zeroed, contiguous pages; returns the first one's address.</summary>
    public ulong Allocate(int pages = 1)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pages);
        lock (gate)
        {
            ulong pa = next;
            regions.Add(pa, new byte[checked(pages * PageSize)]);
            next += (ulong)(pages + 1) * PageSize;
            return pa;
        }
    }

    /// <summary>Frees the region starting at <paramref name="pa"/> (no effect on any other address).</summary>
    public void Free(ulong pa)
    {
        lock (gate) regions.Remove(pa);
    }

    /// <summary>The bytes [pa, pa + length) when they lie inside one region; false otherwise (the firmware's invalid-address answer).</summary>
    public bool TryGet(ulong pa, int length, out Span<byte> bytes)
    {
        if (length >= 0 && Find(pa, out ulong start, out byte[]? region))
        {
            ulong off = pa - start;
            if ((ulong)length <= (ulong)region!.Length - off)
            {
                bytes = region.AsSpan((int)off, length);
                return true;
            }
        }
        bytes = default;
        return false;
    }

    /// <summary>The page at a page-aligned address inside a region, or false.</summary>
    public bool TryPage(ulong pa, out Span<byte> page)
    {
        if ((pa & (PageSize - 1)) == 0 && TryGet(pa, PageSize, out page)) return true;
        page = default;
        return false;
    }

    /// <summary>The bytes at an address the caller allocated itself (a kernel-side buffer); throws on a programming error.</summary>
    public Span<byte> At(ulong pa, int length) => TryGet(pa, length, out var s) ? s : throw new ArgumentOutOfRangeException(nameof(pa));

    /// <summary>Reads <paramref name="destination"/>.Length bytes at <paramref name="pa"/>; false when they are not all inside one region.</summary>
    public bool Read(ulong pa, Span<byte> destination)
    {
        if (!TryGet(pa, destination.Length, out var s)) return false;
        s.CopyTo(destination);
        return true;
    }

    /// <summary>Writes <paramref name="source"/> at <paramref name="pa"/>; false (nothing written) when it does not fit inside one region.</summary>
    public bool Write(ulong pa, ReadOnlySpan<byte> source)
    {
        if (!TryGet(pa, source.Length, out var s)) return false;
        source.CopyTo(s);
        return true;
    }

    private bool Find(ulong pa, out ulong start, out byte[]? region)
    {
        lock (gate)
        {
            var keys = regions.Keys;
            int lo = 0, hi = keys.Count - 1, found = -1;
            while (lo <= hi)
            {
                int mid = (lo + hi) >>> 1;
                if (keys[mid] <= pa) { found = mid; lo = mid + 1; }
                else hi = mid - 1;
            }
            if (found >= 0)
            {
                start = keys[found];
                region = regions.Values[found];
                if (pa - start < (ulong)region.Length) return true;
            }
        }
        start = 0;
        region = null;
        return false;
    }
}
