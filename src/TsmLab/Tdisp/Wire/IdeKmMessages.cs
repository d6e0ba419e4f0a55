using System.Buffers.Binary;

namespace TsmLab.Tdisp.Wire;

/// <summary>IDE_KM object ids [D4].</summary>
/// <remarks>
/// IDE_KM messages (protocol_id 0x00) [D4] (§5.8), layouts from libspdm pci_idekm.h: QUERY       (3
/// B): object_id, reserved, port_index QUERY_RESP  (7 B + regs): object_id, reserved, port_index,
/// dev_func_num, bus_num, segment, max_port_index, then the IDE extended-capability registers (u32
/// each) KEY_PROG    (7 B + 32 B key + 8 B IFV): object_id, reserved[2], stream_id, reserved,
/// key_sub_stream, port_index KP_ACK      (7 B): as KEY_PROG's header with status in the reserved
/// byte @4 K_SET_GO / K_SET_STOP / K_GOSTOP_ACK (7 B): KEY_PROG's header without key
/// </remarks>
public enum IdeKmObjectId : byte
{
    Query = 0,
    QueryResponse = 1,
    KeyProg = 2,
    KpAck = 3,
    KSetGo = 4,
    KSetStop = 5,
    KGoStopAck = 6,
}

/// <summary>KP_ACK status values [D4].</summary>
public enum KpAckStatus : byte
{
    Success = 0,
    IncorrectLength = 1,
    UnsupportedPortIndex = 2,
    UnsupportedValue = 3,
    Unspecified = 4,
}

/// <summary>IDE sub-stream a key belongs to (bits 4-7 of key_sub_stream) [D4].</summary>
public enum IdeSubStream : byte
{
    PostedRequest = 0,
    NonPostedRequest = 1,
    Completion = 2,
}

/// <summary>Key direction (bit 1 of key_sub_stream) [D4].</summary>
public enum IdeKeyDirection : byte
{
    Receive = 0,
    Transmit = 1,
}

/// <summary>The key_sub_stream byte: b0 key set K0/K1, b1 RX/TX, b4-7 sub-stream [D4].</summary>
public readonly record struct IdeKeySubStream(byte Value)
{
    public int KeySet => Value & 1;
    public IdeKeyDirection Direction => (IdeKeyDirection)((Value >> 1) & 1);
    public IdeSubStream SubStream => (IdeSubStream)(Value >> 4);
    /// <summary>Reserved bits 2-3 clear and a defined sub-stream.</summary>
    public bool IsValid => (Value & 0x0C) == 0 && (Value >> 4) <= 2;

    public static IdeKeySubStream Create(int keySet, IdeKeyDirection direction, IdeSubStream subStream) =>
        new((byte)((keySet & 1) | ((byte)direction << 1) | ((byte)subStream << 4)));
}

/// <summary>The 7-byte header shared by KEY_PROG, KP_ACK, K_SET_GO, K_SET_STOP and K_GOSTOP_ACK [D4].</summary>
public readonly ref struct IdeKmStreamMessage
{
    public const int Size = 7;
    public const int KeySize = 32;
    public const int IfvSize = 8;
    public const int KeyProgSize = Size + KeySize + IfvSize;

    public IdeKmObjectId ObjectId { get; }
    public byte StreamId { get; }
    /// <summary>The byte @4: reserved, except KP_ACK's status.</summary>
    public byte Status { get; }
    public IdeKeySubStream KeySubStream { get; }
    public byte PortIndex { get; }
    /// <summary>KEY_PROG only: the 8-DW key.</summary>
    public ReadOnlySpan<byte> Key { get; }
    /// <summary>KEY_PROG only: the 2-DW invocation field of the IV.</summary>
    public ReadOnlySpan<byte> Ifv { get; }

    private IdeKmStreamMessage(IdeKmObjectId id, byte stream, byte status, IdeKeySubStream kss, byte port, ReadOnlySpan<byte> key, ReadOnlySpan<byte> ifv)
    {
        ObjectId = id;
        StreamId = stream;
        Status = status;
        KeySubStream = kss;
        PortIndex = port;
        Key = key;
        Ifv = ifv;
    }

    /// <summary>Reads the header fields present, zero for any beyond <paramref name="message"/>'s end
    /// (so a short KEY_PROG can still be acknowledged with INCORRECT_LENGTH).</summary>
    public static IdeKmStreamMessage ReadLenient(ReadOnlySpan<byte> message)
    {
        Span<byte> h = stackalloc byte[Size];
        h.Clear();
        message[..Math.Min(Size, message.Length)].CopyTo(h);
        bool keyed = message.Length == KeyProgSize;
        return new IdeKmStreamMessage((IdeKmObjectId)h[0], h[3], h[4], new IdeKeySubStream(h[5]), h[6],
            keyed ? message.Slice(Size, KeySize) : default, keyed ? message.Slice(Size + KeySize, IfvSize) : default);
    }

    /// <summary>Reads a message of exactly the size its object id requires.</summary>
    public static bool TryRead(ReadOnlySpan<byte> message, out IdeKmStreamMessage result)
    {
        result = default;
        if (message.Length < Size)
            return false;
        var id = (IdeKmObjectId)message[0];
        int expected = id == IdeKmObjectId.KeyProg ? KeyProgSize : Size;
        if (id is < IdeKmObjectId.KeyProg or > IdeKmObjectId.KGoStopAck || message.Length != expected)
            return false;
        result = ReadLenient(message);
        return true;
    }

    /// <summary>Writes a 7-byte message (KP_ACK puts <paramref name="status"/> @4; others pass 0).</summary>
    public static int Write(Span<byte> destination, IdeKmObjectId id, byte streamId, IdeKeySubStream keySubStream, byte portIndex, byte status = 0)
    {
        var m = destination[..Size];
        m.Clear();
        m[0] = (byte)id;
        m[3] = streamId;
        m[4] = status;
        m[5] = keySubStream.Value;
        m[6] = portIndex;
        return Size;
    }

    /// <summary>Writes KEY_PROG with its key and IFV; returns 47.</summary>
    public static int WriteKeyProg(Span<byte> destination, byte streamId, IdeKeySubStream keySubStream, byte portIndex, ReadOnlySpan<byte> key, ReadOnlySpan<byte> ifv)
    {
        Write(destination, IdeKmObjectId.KeyProg, streamId, keySubStream, portIndex);
        key[..KeySize].CopyTo(destination[Size..]);
        ifv[..IfvSize].CopyTo(destination[(Size + KeySize)..]);
        return KeyProgSize;
    }
}

/// <summary>IDE_KM QUERY (3 bytes) [D4].</summary>
public readonly ref struct IdeKmQuery
{
    public const int Size = 3;

    public byte PortIndex { get; }

    private IdeKmQuery(byte port) => PortIndex = port;

    public static bool TryRead(ReadOnlySpan<byte> message, out IdeKmQuery result)
    {
        result = default;
        if (message.Length != Size || message[0] != (byte)IdeKmObjectId.Query)
            return false;
        result = new IdeKmQuery(message[2]);
        return true;
    }

    public static int Write(Span<byte> destination, byte portIndex)
    {
        destination[0] = (byte)IdeKmObjectId.Query;
        destination[1] = 0;
        destination[2] = portIndex;
        return Size;
    }
}

/// <summary>IDE_KM QUERY_RESP: the port's location and its IDE extended-capability registers [D4].</summary>
public readonly ref struct IdeKmQueryResponse
{
    public const int FixedSize = 7;

    public byte PortIndex { get; }
    public byte DevFuncNumber { get; }
    public byte BusNumber { get; }
    public byte Segment { get; }
    public byte MaxPortIndex { get; }
    /// <summary>The IDE extended capability registers, u32 little-endian each.</summary>
    public ReadOnlySpan<byte> IdeRegisters { get; }

    private IdeKmQueryResponse(ReadOnlySpan<byte> m)
    {
        PortIndex = m[2];
        DevFuncNumber = m[3];
        BusNumber = m[4];
        Segment = m[5];
        MaxPortIndex = m[6];
        IdeRegisters = m[FixedSize..];
    }

    public int RegisterCount => IdeRegisters.Length / 4;
    public uint GetRegister(int index) => BinaryPrimitives.ReadUInt32LittleEndian(IdeRegisters[(index * 4)..]);

    public static bool TryRead(ReadOnlySpan<byte> message, out IdeKmQueryResponse result)
    {
        result = default;
        if (message.Length < FixedSize || message[0] != (byte)IdeKmObjectId.QueryResponse || (message.Length - FixedSize) % 4 != 0)
            return false;
        result = new IdeKmQueryResponse(message);
        return true;
    }

    public static int Write(Span<byte> destination, byte portIndex, byte devFunc, byte bus, byte segment, byte maxPortIndex, ReadOnlySpan<uint> registers)
    {
        destination[0] = (byte)IdeKmObjectId.QueryResponse;
        destination[1] = 0;
        destination[2] = portIndex;
        destination[3] = devFunc;
        destination[4] = bus;
        destination[5] = segment;
        destination[6] = maxPortIndex;
        for (int i = 0; i < registers.Length; i++)
            BinaryPrimitives.WriteUInt32LittleEndian(destination[(FixedSize + 4 * i)..], registers[i]);
        return FixedSize + 4 * registers.Length;
    }
}
