using System.Buffers.Binary;
using TsmLab.Hardware;
using TsmLab.Platforms.Tdx.Abi;

namespace TsmLab.Platforms.Tdx.HostDriver;

/// <summary>Pages the host hands the module as an HPA_ARRAY_T (Linux's tdx_page_array): the pages, the list page when there is more than one, and the encoded operand.</summary>
internal sealed class TdxHostPages
{
    private TdxHostPages(PhysicalMemory memory, List<ulong> pages, ulong list)
    {
        Memory = memory;
        Pages = pages;
        List = list;
        Array = HpaArray.Encode(list != 0 ? list : pages[0], pages.Count);
    }

    public PhysicalMemory Memory { get; }
    public List<ulong> Pages { get; }
    public ulong List { get; }
    /// <summary>The HPA_ARRAY_T operand.</summary>
    public ulong Array { get; }

    public static TdxHostPages Allocate(PhysicalMemory memory, int count)
    {
        var pages = new List<ulong>(count);
        for (int i = 0; i < count; i++) pages.Add(memory.Allocate());
        ulong list = 0;
        if (count > 1)
        {
            list = memory.Allocate();
            Span<byte> b = stackalloc byte[8];
            for (int i = 0; i < count; i++)
            {
                BinaryPrimitives.WriteUInt64LittleEndian(b, pages[i]);
                memory.Write(list + (ulong)i * 8, b);
            }
        }
        return new TdxHostPages(memory, pages, list);
    }

    /// <summary>Reads <paramref name="length"/> bytes the module wrote across the pages.</summary>
    public byte[] Read(int length)
    {
        var b = new byte[Math.Min(length, Pages.Count * 4096)];
        for (int i = 0; i * 4096 < b.Length; i++)
            Memory.Read(Pages[i], b.AsSpan(i * 4096, Math.Min(4096, b.Length - i * 4096)));
        return b;
    }

    /// <summary>Returns the pages to the kernel (after the module released them).</summary>
    public void Free()
    {
        foreach (var p in Pages) Memory.Free(p);
        if (List != 0) Memory.Free(List);
    }
}
