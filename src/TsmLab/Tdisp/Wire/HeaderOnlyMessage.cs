namespace TsmLab.Tdisp.Wire;

/// <summary>Reader and writer for a TDISP message with no payload (exactly 16 bytes) [D1].</summary>
/// <remarks>
/// TDISP messages that are only the 16-byte header [D1] (§5.3): GET_TDISP_VERSION,
/// GET_DEVICE_INTERFACE_STATE, STOP_INTERFACE_REQUEST and the empty responses
/// (START/STOP_INTERFACE_RESPONSE, BIND/UNBIND_P2P_STREAM_RESPONSE, SET_MMIO_ATTRIBUTE_RESPONSE,
/// SET_TDISP_CONFIG_RESPONSE).
/// </remarks>
public readonly ref struct HeaderOnlyMessage
{
    public const int Size = TdispHeader.Size;

    public byte MessageType { get; }
    public TdiFunctionId FunctionId { get; }

    private HeaderOnlyMessage(byte type, TdiFunctionId id)
    {
        MessageType = type;
        FunctionId = id;
    }

    /// <summary>Reads a 16-byte TDISP 1.0 message of the given type.</summary>
    public static bool TryRead(ReadOnlySpan<byte> message, byte messageType, out HeaderOnlyMessage result)
    {
        result = default;
        if (!TdispHeader.Matches(message, messageType, Size) || !TdispHeader.TryRead(message, out var h))
            return false;
        result = new HeaderOnlyMessage(h.MessageType, h.FunctionId);
        return true;
    }

    /// <summary>Writes a 16-byte message; returns 16.</summary>
    public static int Write(Span<byte> destination, byte messageType, TdiFunctionId functionId)
    {
        TdispHeader.Begin(destination, messageType, functionId, Size);
        return Size;
    }

    public static int WriteGetTdispVersion(Span<byte> d, TdiFunctionId id) => Write(d, (byte)TdispRequestCode.GetTdispVersion, id);
    public static int WriteGetDeviceInterfaceState(Span<byte> d, TdiFunctionId id) => Write(d, (byte)TdispRequestCode.GetDeviceInterfaceState, id);
    public static int WriteStopInterfaceRequest(Span<byte> d, TdiFunctionId id) => Write(d, (byte)TdispRequestCode.StopInterface, id);
    public static int WriteStartInterfaceResponse(Span<byte> d, TdiFunctionId id) => Write(d, (byte)TdispResponseCode.StartInterface, id);
    public static int WriteStopInterfaceResponse(Span<byte> d, TdiFunctionId id) => Write(d, (byte)TdispResponseCode.StopInterface, id);
    public static int WriteBindP2pStreamResponse(Span<byte> d, TdiFunctionId id) => Write(d, (byte)TdispResponseCode.BindP2pStream, id);
    public static int WriteUnbindP2pStreamResponse(Span<byte> d, TdiFunctionId id) => Write(d, (byte)TdispResponseCode.UnbindP2pStream, id);
    public static int WriteSetMmioAttributeResponse(Span<byte> d, TdiFunctionId id) => Write(d, (byte)TdispResponseCode.SetMmioAttribute, id);
    public static int WriteSetTdispConfigResponse(Span<byte> d, TdiFunctionId id) => Write(d, (byte)TdispResponseCode.SetTdispConfig, id);
}
