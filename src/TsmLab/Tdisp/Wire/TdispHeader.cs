using System.Buffers.Binary;

namespace TsmLab.Tdisp.Wire;

/// <summary>The 16-byte header every TDISP message starts with [D1].</summary>
/// <remarks>
/// TDISP message header (16 bytes) [D1] (§5.2): 0 version u8 (0x10) | 1 message_type u8 | 2
/// reserved[2] | 4 function_id u32 | 8 reserved u64
/// </remarks>
public readonly ref struct TdispHeader
{
    public const int Size = 16;
    /// <summary>TDISP 1.0.</summary>
    public const byte Version10 = 0x10;

    public byte Version { get; }
    public byte MessageType { get; }
    public TdiFunctionId FunctionId { get; }

    private TdispHeader(byte version, byte type, TdiFunctionId id)
    {
        Version = version;
        MessageType = type;
        FunctionId = id;
    }

    /// <summary>Reads the header; false when fewer than 16 bytes.</summary>
    public static bool TryRead(ReadOnlySpan<byte> message, out TdispHeader header)
    {
        if (message.Length < Size)
        {
            header = default;
            return false;
        }
        header = new TdispHeader(message[0], message[1], new TdiFunctionId(BinaryPrimitives.ReadUInt32LittleEndian(message[4..])));
        return true;
    }

    /// <summary>Writes a TDISP 1.0 header with zeroed reserved fields.</summary>
    public static void Write(Span<byte> destination, byte messageType, TdiFunctionId functionId)
    {
        destination[..Size].Clear();
        destination[0] = Version10;
        destination[1] = messageType;
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], functionId.Value);
    }

    /// <summary>Writes a header and zeroes the payload up to <paramref name="totalSize"/>; returns it.</summary>
    internal static Span<byte> Begin(Span<byte> destination, byte messageType, TdiFunctionId functionId, int totalSize)
    {
        var m = destination[..totalSize];
        m.Clear();
        m[0] = Version10;
        m[1] = messageType;
        BinaryPrimitives.WriteUInt32LittleEndian(m[4..], functionId.Value);
        return m;
    }

    /// <summary>Checks the header is TDISP 1.0 with the given type and exactly <paramref name="size"/> bytes.</summary>
    internal static bool Matches(ReadOnlySpan<byte> message, byte messageType, int size) =>
        message.Length == size && message[0] == Version10 && message[1] == messageType;
}
