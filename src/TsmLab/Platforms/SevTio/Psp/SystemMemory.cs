// Host physical memory as the PSP sees it: the pages the host driver allocated for firmware use
// (command data, bounce pages for guest messages, output buffers). A command names them by
// physical address; the firmware reads and writes them directly, as the real PSP does by DMA.
namespace TsmLab.Platforms.SevTio.Psp;

/// <summary>Contiguous physical regions the host allocated, addressable by the firmware.</summary>
public sealed class SystemMemory
{
    private readonly List<(ulong Base, byte[] Bytes)> _regions = [];
    private ulong _next = 0x1_0000_0000;

    /// <summary>Allocates <paramref name="pages"/> zeroed 4 KiB pages; returns the physical address.</summary>
    public ulong Alloc(int pages)
    {
        ulong pa = _next;
        _regions.Add((pa, new byte[pages * 4096]));
        _next += (ulong)(pages + 1) * 4096;
        return pa;
    }

    /// <summary>The bytes at [pa, pa + length) when they lie in one region; false otherwise (INVALID_ADDRESS).</summary>
    public bool TryGet(ulong pa, int length, out Span<byte> bytes)
    {
        foreach (var (b, r) in _regions)
        {
            if (pa >= b && length >= 0 && pa - b <= (ulong)r.Length && (ulong)length <= (ulong)r.Length - (pa - b))
            {
                bytes = r.AsSpan((int)(pa - b), length);
                return true;
            }
        }
        bytes = default;
        return false;
    }

    /// <summary>The bytes at a known-good address (host driver side).</summary>
    public Span<byte> At(ulong pa, int length) => TryGet(pa, length, out var s) ? s : throw new ArgumentOutOfRangeException(nameof(pa));
}
