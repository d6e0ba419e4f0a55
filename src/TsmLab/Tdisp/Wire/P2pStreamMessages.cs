namespace TsmLab.Tdisp.Wire;

/// <summary>BIND_P2P_STREAM_REQUEST [D1].</summary>
/// <remarks>
/// BIND_P2P_STREAM_REQUEST (0x88, 18 B): p2p_stream_id u8 @16; stream_config u8 @17 (b0 XT enable).
/// UNBIND_P2P_STREAM_REQUEST (0x89, 17 B): p2p_stream_id u8 @16. [D1] (§5.3) Both responses are
/// header-only (see HeaderOnlyMessage).
/// </remarks>
public readonly ref struct BindP2pStreamRequest
{
    public const int Size = 18;
    public const byte StreamConfigXtEnable = 1;

    public TdiFunctionId FunctionId { get; }
    public byte P2pStreamId { get; }
    public byte StreamConfig { get; }

    private BindP2pStreamRequest(TdiFunctionId id, byte stream, byte config)
    {
        FunctionId = id;
        P2pStreamId = stream;
        StreamConfig = config;
    }

    public static bool TryRead(ReadOnlySpan<byte> message, out BindP2pStreamRequest result)
    {
        result = default;
        if (!TdispHeader.Matches(message, (byte)TdispRequestCode.BindP2pStream, Size) || !TdispHeader.TryRead(message, out var h))
            return false;
        result = new BindP2pStreamRequest(h.FunctionId, message[16], message[17]);
        return true;
    }

    public static int Write(Span<byte> destination, TdiFunctionId functionId, byte p2pStreamId, byte streamConfig)
    {
        var m = TdispHeader.Begin(destination, (byte)TdispRequestCode.BindP2pStream, functionId, Size);
        m[16] = p2pStreamId;
        m[17] = streamConfig;
        return Size;
    }
}

/// <summary>UNBIND_P2P_STREAM_REQUEST [D1].</summary>
public readonly ref struct UnbindP2pStreamRequest
{
    public const int Size = 17;

    public TdiFunctionId FunctionId { get; }
    public byte P2pStreamId { get; }

    private UnbindP2pStreamRequest(TdiFunctionId id, byte stream)
    {
        FunctionId = id;
        P2pStreamId = stream;
    }

    public static bool TryRead(ReadOnlySpan<byte> message, out UnbindP2pStreamRequest result)
    {
        result = default;
        if (!TdispHeader.Matches(message, (byte)TdispRequestCode.UnbindP2pStream, Size) || !TdispHeader.TryRead(message, out var h))
            return false;
        result = new UnbindP2pStreamRequest(h.FunctionId, message[16]);
        return true;
    }

    public static int Write(Span<byte> destination, TdiFunctionId functionId, byte p2pStreamId)
    {
        var m = TdispHeader.Begin(destination, (byte)TdispRequestCode.UnbindP2pStream, functionId, Size);
        m[16] = p2pStreamId;
        return Size;
    }
}
