namespace TsmLab.Tdisp.Wire;

/// <summary>The function_id of a TDISP INTERFACE_ID: which function (TDI) a message names [D1].</summary>
/// <remarks>
/// TDISP INTERFACE_ID.function_id [D1] (§5.2): RID in bits 0-15, requester segment in bits 16-23,
/// segment-valid in bit 24; bits 25-31 reserved.
/// </remarks>
public readonly record struct TdiFunctionId(uint Value)
{
    public const uint SegmentValidBit = 1u << 24;
    public const uint ReservedMask = 0xFE00_0000;

    /// <summary>Routing ID: bus in bits 8-15, device in 3-7, function in 0-2.</summary>
    public ushort Rid => (ushort)Value;
    public byte Segment => (byte)(Value >> 16);
    public bool SegmentValid => (Value & SegmentValidBit) != 0;
    public byte Bus => (byte)(Value >> 8);
    public byte DeviceNumber => (byte)((Value >> 3) & 0x1F);
    public byte FunctionNumber => (byte)(Value & 7);

    /// <summary>Builds a function_id from a RID and an optional segment (sets segment-valid).</summary>
    public static TdiFunctionId FromRid(ushort rid, byte? segment = null) =>
        new(rid | (segment is byte s ? ((uint)s << 16) | SegmentValidBit : 0));

    /// <summary>Builds a function_id from bus/device/function numbers.</summary>
    public static TdiFunctionId FromBdf(byte bus, byte device, byte function, byte? segment = null) =>
        FromRid((ushort)((bus << 8) | ((device & 0x1F) << 3) | (function & 7)), segment);

    public override string ToString() =>
        $"{(SegmentValid ? Segment : 0):x4}:{Bus:x2}:{DeviceNumber:x2}.{FunctionNumber:x} (0x{Value:x})";
}
