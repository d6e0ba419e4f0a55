using System.Buffers.Binary;

namespace TsmLab.Tdisp.Wire;

/// <summary>TDISP_ERROR: the device's answer to a request it rejects [D1].</summary>
/// <remarks>
/// TDISP_ERROR (0x7F, 24 B + extended data): error_code u32 @16; error_data u32 @20; extended error
/// data after it (registry_id, vendor_id_len, vendor_id, data) [D1] (§5.3, §5.7).
/// UNSUPPORTED_REQUEST carries the request code in error_data [E3].
/// </remarks>
public readonly ref struct TdispErrorResponse
{
    public const int Size = 24;

    public TdiFunctionId FunctionId { get; }
    public TdispErrorCode ErrorCode { get; }
    public uint ErrorData { get; }
    public ReadOnlySpan<byte> ExtendedData { get; }

    private TdispErrorResponse(TdiFunctionId id, TdispErrorCode code, uint data, ReadOnlySpan<byte> ext)
    {
        FunctionId = id;
        ErrorCode = code;
        ErrorData = data;
        ExtendedData = ext;
    }

    public static bool TryRead(ReadOnlySpan<byte> message, out TdispErrorResponse result)
    {
        result = default;
        if (message.Length < Size || message[0] != TdispHeader.Version10 || message[1] != (byte)TdispResponseCode.TdispError
            || !TdispHeader.TryRead(message, out var h))
            return false;
        result = new TdispErrorResponse(h.FunctionId,
            (TdispErrorCode)BinaryPrimitives.ReadUInt32LittleEndian(message[16..]),
            BinaryPrimitives.ReadUInt32LittleEndian(message[20..]), message[Size..]);
        return true;
    }

    /// <summary>Writes a TDISP_ERROR without extended data; returns 24.</summary>
    public static int Write(Span<byte> destination, TdiFunctionId functionId, TdispErrorCode code, uint errorData = 0)
    {
        var m = TdispHeader.Begin(destination, (byte)TdispResponseCode.TdispError, functionId, Size);
        BinaryPrimitives.WriteUInt32LittleEndian(m[16..], (uint)code);
        BinaryPrimitives.WriteUInt32LittleEndian(m[20..], errorData);
        return Size;
    }
}
