using System.Buffers.Binary;

namespace TsmLab.Tdisp.Wire;

/// <summary>The parameters a TSM locks a TDI with [D1].</summary>
/// <remarks>
/// LOCK_INTERFACE_REQUEST (0x83, 36 B): flags u16 @16; default_stream_id u8 @18; reserved @19;
/// mmio_reporting_offset u64 @20; bind_p2p_address_mask u64 @28. LOCK_INTERFACE_RESPONSE (0x03, 48
/// B): start_interface_nonce[32] @16. [D1] (§5.3, §5.4)
/// </remarks>
public readonly record struct LockInterfaceParameters(
    LockInterfaceFlags Flags,
    byte DefaultStreamId,
    ulong MmioReportingOffset,
    ulong BindP2pAddressMask = 0);

/// <summary>LOCK_INTERFACE_REQUEST [D1].</summary>
public readonly ref struct LockInterfaceRequest
{
    public const int Size = 36;

    public TdiFunctionId FunctionId { get; }
    public LockInterfaceParameters Parameters { get; }

    private LockInterfaceRequest(TdiFunctionId id, LockInterfaceParameters p)
    {
        FunctionId = id;
        Parameters = p;
    }

    public static bool TryRead(ReadOnlySpan<byte> message, out LockInterfaceRequest result)
    {
        result = default;
        if (!TdispHeader.Matches(message, (byte)TdispRequestCode.LockInterface, Size) || !TdispHeader.TryRead(message, out var h))
            return false;
        result = new LockInterfaceRequest(h.FunctionId, new LockInterfaceParameters(
            (LockInterfaceFlags)BinaryPrimitives.ReadUInt16LittleEndian(message[16..]),
            message[18],
            BinaryPrimitives.ReadUInt64LittleEndian(message[20..]),
            BinaryPrimitives.ReadUInt64LittleEndian(message[28..])));
        return true;
    }

    public static int Write(Span<byte> destination, TdiFunctionId functionId, in LockInterfaceParameters p)
    {
        var m = TdispHeader.Begin(destination, (byte)TdispRequestCode.LockInterface, functionId, Size);
        BinaryPrimitives.WriteUInt16LittleEndian(m[16..], (ushort)p.Flags);
        m[18] = p.DefaultStreamId;
        BinaryPrimitives.WriteUInt64LittleEndian(m[20..], p.MmioReportingOffset);
        BinaryPrimitives.WriteUInt64LittleEndian(m[28..], p.BindP2pAddressMask);
        return Size;
    }
}

/// <summary>LOCK_INTERFACE_RESPONSE: carries the START_INTERFACE nonce [D1].</summary>
public readonly ref struct LockInterfaceResponse
{
    public const int Size = 48;
    public const int NonceSize = 32;

    public TdiFunctionId FunctionId { get; }
    public ReadOnlySpan<byte> StartInterfaceNonce { get; }

    private LockInterfaceResponse(TdiFunctionId id, ReadOnlySpan<byte> nonce)
    {
        FunctionId = id;
        StartInterfaceNonce = nonce;
    }

    public static bool TryRead(ReadOnlySpan<byte> message, out LockInterfaceResponse result)
    {
        result = default;
        if (!TdispHeader.Matches(message, (byte)TdispResponseCode.LockInterface, Size) || !TdispHeader.TryRead(message, out var h))
            return false;
        result = new LockInterfaceResponse(h.FunctionId, message.Slice(16, NonceSize));
        return true;
    }

    public static int Write(Span<byte> destination, TdiFunctionId functionId, ReadOnlySpan<byte> nonce)
    {
        var m = TdispHeader.Begin(destination, (byte)TdispResponseCode.LockInterface, functionId, Size);
        nonce[..NonceSize].CopyTo(m[16..]);
        return Size;
    }
}
