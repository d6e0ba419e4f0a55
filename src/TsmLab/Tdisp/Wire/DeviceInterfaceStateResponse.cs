namespace TsmLab.Tdisp.Wire;

/// <summary>DEVICE_INTERFACE_STATE: the TDI's state [D1].</summary>
/// <remarks>
/// DEVICE_INTERFACE_STATE (0x05, 17 B): tdi_state u8 @16 [D1] (§5.3). GET_DEVICE_INTERFACE_STATE
/// (0x85) is header-only (see HeaderOnlyMessage).
/// </remarks>
public readonly ref struct DeviceInterfaceStateResponse
{
    public const int Size = 17;

    public TdiFunctionId FunctionId { get; }
    public TdiState State { get; }

    private DeviceInterfaceStateResponse(TdiFunctionId id, TdiState state)
    {
        FunctionId = id;
        State = state;
    }

    public static bool TryRead(ReadOnlySpan<byte> message, out DeviceInterfaceStateResponse result)
    {
        result = default;
        if (!TdispHeader.Matches(message, (byte)TdispResponseCode.DeviceInterfaceState, Size) || !TdispHeader.TryRead(message, out var h))
            return false;
        result = new DeviceInterfaceStateResponse(h.FunctionId, (TdiState)message[16]);
        return true;
    }

    public static int Write(Span<byte> destination, TdiFunctionId functionId, TdiState state)
    {
        var m = TdispHeader.Begin(destination, (byte)TdispResponseCode.DeviceInterfaceState, functionId, Size);
        m[16] = (byte)state;
        return Size;
    }
}
