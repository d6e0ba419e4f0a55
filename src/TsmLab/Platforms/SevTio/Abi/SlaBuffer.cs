using TsmLab.Hardware;
using System.Buffers.Binary;

namespace TsmLab.Platforms.SevTio.Abi;

/// <summary>The pages of one SLA-named buffer.</summary>
/// <remarks>
/// A buffer named by a scatter-list address (sla_addr_t [S5]) as the firmware reaches it, or the
/// host as the driver's sla_buffer_map maps it: one 4 KiB data page, or a scatter page listing data
/// pages up to SLA_EOL. 2 MiB pages and nested scatter lists are refused (the public driver never
/// builds them). Offsets are checked.
/// </remarks>
public readonly struct SlaBuffer
{
    private const int Page = PhysicalMemory.PageSize;
    /// <summary>Most data pages a scatter page can list (one entry is kept for SLA_EOL).</summary>
    public const int MaxPages = Page / 8 - 1;
    private readonly PhysicalMemory memory;
    private readonly ulong[] pages;

    private SlaBuffer(PhysicalMemory memory, ulong[] pages)
    {
        this.memory = memory;
        this.pages = pages;
    }

    /// <summary>The buffer's size in bytes (its pages).</summary>
    public int Capacity => pages.Length * Page;

    /// <summary>Resolves <paramref name="sla"/>: INVALID_PARAM for a null, reserved-bit, 2 MiB or nested SLA; INVALID_ADDRESS for a page not in memory.</summary>
    public static PspStatus TryOpen(PhysicalMemory memory, ulong sla, out SlaBuffer buffer)
    {
        buffer = default;
        if (sla == SlaAddress.Null || !SlaAddress.TryDecode(sla, out ulong pa, out bool scatter, out bool large) || large) return PspStatus.InvalidParam;
        if (!memory.TryPage(pa, out var first)) return PspStatus.InvalidAddress;
        if (!scatter)
        {
            buffer = new SlaBuffer(memory, [pa]);
            return PspStatus.Success;
        }
        var pages = new List<ulong>();
        for (int i = 0; i < Page / 8; i++)
        {
            ulong e = BinaryPrimitives.ReadUInt64LittleEndian(first[(i * 8)..]);
            if (e == SlaAddress.Eol) break;
            if (i == MaxPages) return PspStatus.InvalidParam;
            if (!SlaAddress.TryDecode(e, out ulong epa, out bool es, out bool el) || es || el || e == SlaAddress.Null) return PspStatus.InvalidParam;
            if (!memory.TryPage(epa, out _)) return PspStatus.InvalidAddress;
            pages.Add(epa);
        }
        if (pages.Count == 0) return PspStatus.InvalidParam;
        buffer = new SlaBuffer(memory, [.. pages]);
        return PspStatus.Success;
    }

    /// <summary>Copies <paramref name="source"/> to byte <paramref name="offset"/>; false when it does not fit.</summary>
    public bool Write(int offset, ReadOnlySpan<byte> source)
    {
        if (offset < 0 || (long)offset + source.Length > Capacity) return false;
        while (!source.IsEmpty)
        {
            int inPage = offset % Page, n = Math.Min(Page - inPage, source.Length);
            memory.TryGet(pages[offset / Page] + (ulong)inPage, n, out var dst);
            source[..n].CopyTo(dst);
            source = source[n..];
            offset += n;
        }
        return true;
    }

    /// <summary>Fills <paramref name="destination"/> from byte <paramref name="offset"/>; false when it does not fit.</summary>
    public bool Read(int offset, Span<byte> destination)
    {
        if (offset < 0 || (long)offset + destination.Length > Capacity) return false;
        while (!destination.IsEmpty)
        {
            int inPage = offset % Page, n = Math.Min(Page - inPage, destination.Length);
            memory.TryGet(pages[offset / Page] + (ulong)inPage, n, out var src);
            src.CopyTo(destination[..n]);
            destination = destination[n..];
            offset += n;
        }
        return true;
    }
}
