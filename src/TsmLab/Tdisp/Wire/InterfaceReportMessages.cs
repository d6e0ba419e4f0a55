using System.Buffers.Binary;

namespace TsmLab.Tdisp.Wire;

/// <summary>GET_DEVICE_INTERFACE_REPORT: asks for one portion of the report [D1].</summary>
/// <remarks>
/// GET_DEVICE_INTERFACE_REPORT (0x84, 20 B): offset u16 @16; length u16 @18.
/// DEVICE_INTERFACE_REPORT (0x04): portion_length u16 @16; remainder_length u16 @18; bytes @20.
/// [D1] (§5.3); clipping and remainder arithmetic [E2].
/// </remarks>
public readonly ref struct GetDeviceInterfaceReportRequest
{
    public const int Size = 20;

    public TdiFunctionId FunctionId { get; }
    public ushort Offset { get; }
    public ushort Length { get; }

    private GetDeviceInterfaceReportRequest(TdiFunctionId id, ushort offset, ushort length)
    {
        FunctionId = id;
        Offset = offset;
        Length = length;
    }

    public static bool TryRead(ReadOnlySpan<byte> message, out GetDeviceInterfaceReportRequest result)
    {
        result = default;
        if (!TdispHeader.Matches(message, (byte)TdispRequestCode.GetDeviceInterfaceReport, Size) || !TdispHeader.TryRead(message, out var h))
            return false;
        result = new GetDeviceInterfaceReportRequest(h.FunctionId,
            BinaryPrimitives.ReadUInt16LittleEndian(message[16..]), BinaryPrimitives.ReadUInt16LittleEndian(message[18..]));
        return true;
    }

    public static int Write(Span<byte> destination, TdiFunctionId functionId, ushort offset, ushort length)
    {
        var m = TdispHeader.Begin(destination, (byte)TdispRequestCode.GetDeviceInterfaceReport, functionId, Size);
        BinaryPrimitives.WriteUInt16LittleEndian(m[16..], offset);
        BinaryPrimitives.WriteUInt16LittleEndian(m[18..], length);
        return Size;
    }
}

/// <summary>DEVICE_INTERFACE_REPORT: one portion of the report and how much remains [D1].</summary>
public readonly ref struct DeviceInterfaceReportResponse
{
    public const int FixedSize = 20;

    public TdiFunctionId FunctionId { get; }
    public ushort RemainderLength { get; }
    public ReadOnlySpan<byte> Portion { get; }

    private DeviceInterfaceReportResponse(TdiFunctionId id, ushort remainder, ReadOnlySpan<byte> portion)
    {
        FunctionId = id;
        RemainderLength = remainder;
        Portion = portion;
    }

    public static bool TryRead(ReadOnlySpan<byte> message, out DeviceInterfaceReportResponse result)
    {
        result = default;
        if (message.Length < FixedSize || message[0] != TdispHeader.Version10 || message[1] != (byte)TdispResponseCode.DeviceInterfaceReport)
            return false;
        int portion = BinaryPrimitives.ReadUInt16LittleEndian(message[16..]);
        if (message.Length != FixedSize + portion || !TdispHeader.TryRead(message, out var h))
            return false;
        result = new DeviceInterfaceReportResponse(h.FunctionId, BinaryPrimitives.ReadUInt16LittleEndian(message[18..]), message.Slice(FixedSize, portion));
        return true;
    }

    public static int Write(Span<byte> destination, TdiFunctionId functionId, ReadOnlySpan<byte> portion, ushort remainderLength)
    {
        var m = TdispHeader.Begin(destination, (byte)TdispResponseCode.DeviceInterfaceReport, functionId, FixedSize + portion.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(m[16..], (ushort)portion.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(m[18..], remainderLength);
        portion.CopyTo(m[FixedSize..]);
        return m.Length;
    }
}
