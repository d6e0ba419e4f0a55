namespace TsmLab.Tdisp.Wire;

/// <summary>START_INTERFACE_REQUEST: echoes the nonce LOCK returned [D1].</summary>
/// <remarks>
/// START_INTERFACE_REQUEST (0x86, 48 B): start_interface_nonce[32] @16 [D1] (§5.3).
/// START_INTERFACE_RESPONSE (0x06) is header-only (see HeaderOnlyMessage).
/// </remarks>
public readonly ref struct StartInterfaceRequest
{
    public const int Size = 48;

    public TdiFunctionId FunctionId { get; }
    public ReadOnlySpan<byte> Nonce { get; }

    private StartInterfaceRequest(TdiFunctionId id, ReadOnlySpan<byte> nonce)
    {
        FunctionId = id;
        Nonce = nonce;
    }

    public static bool TryRead(ReadOnlySpan<byte> message, out StartInterfaceRequest result)
    {
        result = default;
        if (!TdispHeader.Matches(message, (byte)TdispRequestCode.StartInterface, Size) || !TdispHeader.TryRead(message, out var h))
            return false;
        result = new StartInterfaceRequest(h.FunctionId, message.Slice(16, LockInterfaceResponse.NonceSize));
        return true;
    }

    public static int Write(Span<byte> destination, TdiFunctionId functionId, ReadOnlySpan<byte> nonce)
    {
        var m = TdispHeader.Begin(destination, (byte)TdispRequestCode.StartInterface, functionId, Size);
        nonce[..LockInterfaceResponse.NonceSize].CopyTo(m[16..]);
        return Size;
    }
}
