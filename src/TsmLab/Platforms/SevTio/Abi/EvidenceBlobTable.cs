using System.Buffers.Binary;

namespace TsmLab.Platforms.SevTio.Abi;

/// <summary>Builds and reads the evidence blob table.</summary>
/// <remarks>
/// The evidence blob table in a TDI_INFO request's shared data pages [S2]: up to three
/// tio_blob_table_entry {guid[16], offset u32, length u32} (24 B each), offsets relative to the
/// table's start, the blobs after it. GUIDs as in tio.c; bytes as Linux's guid_t (= .NET's
/// Guid.ToByteArray layout).
/// </remarks>
public static class EvidenceBlobTable
{
    public const int EntrySize = 24, Entries = 3, HeaderSize = EntrySize * Entries;
    public static readonly Guid Measurements = new("5caa80c6-12ef-401a-b364-ec59a93abe3f");
    public static readonly Guid Certificates = new("078ccb75-2644-49e8-afe7-5686c5cf72f1");
    public static readonly Guid Report = new("70dc5b0e-0cc0-4cd5-97bb-ff0ba25bf320");

    /// <summary>The table (three entries, unused ones zero) followed by the blobs.</summary>
    public static byte[] Build(IReadOnlyList<(Guid Guid, byte[] Bytes)> blobs)
    {
        if (blobs.Count > Entries) throw new ArgumentException("at most three blobs");
        int size = HeaderSize + blobs.Sum(b => b.Bytes.Length);
        var t = new byte[size];
        int at = HeaderSize;
        for (int i = 0; i < blobs.Count; i++)
        {
            blobs[i].Guid.TryWriteBytes(t.AsSpan(i * EntrySize, 16));
            BinaryPrimitives.WriteUInt32LittleEndian(t.AsSpan(i * EntrySize + 16), (uint)at);
            BinaryPrimitives.WriteUInt32LittleEndian(t.AsSpan(i * EntrySize + 20), (uint)blobs[i].Bytes.Length);
            blobs[i].Bytes.CopyTo(t, at);
            at += blobs[i].Bytes.Length;
        }
        return t;
    }

    /// <summary>The blob with <paramref name="guid"/> in <paramref name="pages"/>, or null when absent or out of bounds.</summary>
    public static byte[]? Find(ReadOnlySpan<byte> pages, Guid guid)
    {
        if (pages.Length < HeaderSize) return null;
        for (int i = 0; i < Entries; i++)
        {
            var e = pages.Slice(i * EntrySize, EntrySize);
            if (new Guid(e[..16]) != guid) continue;
            uint off = BinaryPrimitives.ReadUInt32LittleEndian(e[16..]), len = BinaryPrimitives.ReadUInt32LittleEndian(e[20..]);
            if (off > pages.Length || len > pages.Length - off) return null;
            return pages.Slice((int)off, (int)len).ToArray();
        }
        return null;
    }
}
