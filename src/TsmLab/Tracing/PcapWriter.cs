using System.Buffers.Binary;

namespace TsmLab.Tracing;

/// <summary>
/// Writes DOE objects as a classic libpcap file, the format DMTF's emulators write with
/// <c>--pcap</c> [E5]: little-endian magic 0xa1b2c3d4, version 2.4, snaplen 65536, link type 292
/// (LINKTYPE_PCI_DOE), one record per DOE object in either direction starting at its DOE header.
/// Unlike the emulators, records carry real timestamps (microseconds). An object above the
/// snaplen is recorded truncated with its original length, as libpcap does. Thread-safe: one lock
/// guards the stream, so records from concurrent exchanges never interleave.
/// </summary>
public sealed class PcapWriter : IDisposable
{
    /// <summary>LINKTYPE_PCI_DOE.</summary>
    public const uint LinkTypePciDoe = 292;
    /// <summary>The emulators' snapshot length.</summary>
    public const int SnapLength = 65536;

    private readonly Stream stream;
    private readonly Lock gate = new();
    private readonly byte[] recordHeader = new byte[16];

    /// <summary>Starts a capture on <paramref name="stream"/> (the global header is written at once).</summary>
    public PcapWriter(Stream stream)
    {
        this.stream = stream;
        Span<byte> h = stackalloc byte[24];
        BinaryPrimitives.WriteUInt32LittleEndian(h, 0xa1b2c3d4);
        BinaryPrimitives.WriteUInt16LittleEndian(h[4..], 2);
        BinaryPrimitives.WriteUInt16LittleEndian(h[6..], 4);
        BinaryPrimitives.WriteInt32LittleEndian(h[8..], 0);   // thiszone
        BinaryPrimitives.WriteUInt32LittleEndian(h[12..], 0); // sigfigs
        BinaryPrimitives.WriteUInt32LittleEndian(h[16..], SnapLength);
        BinaryPrimitives.WriteUInt32LittleEndian(h[20..], LinkTypePciDoe);
        stream.Write(h);
    }

    /// <summary>Records one DOE object seen now.</summary>
    public void Record(ReadOnlySpan<byte> doeObject) => Record(doeObject, DateTimeOffset.UtcNow);

    /// <summary>Records one DOE object with the given time.</summary>
    public void Record(ReadOnlySpan<byte> doeObject, DateTimeOffset when)
    {
        long us = (when - DateTimeOffset.UnixEpoch).Ticks / 10;
        int captured = Math.Min(doeObject.Length, SnapLength);
        lock (gate)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(recordHeader, (uint)(us / 1_000_000));
            BinaryPrimitives.WriteUInt32LittleEndian(recordHeader.AsSpan(4), (uint)(us % 1_000_000));
            BinaryPrimitives.WriteUInt32LittleEndian(recordHeader.AsSpan(8), (uint)captured);
            BinaryPrimitives.WriteUInt32LittleEndian(recordHeader.AsSpan(12), (uint)doeObject.Length);
            stream.Write(recordHeader);
            stream.Write(doeObject[..captured]);
        }
    }

    /// <summary>Flushes what was recorded.</summary>
    public void Flush()
    {
        lock (gate) stream.Flush();
    }

    public void Dispose()
    {
        lock (gate) stream.Dispose();
    }
}
