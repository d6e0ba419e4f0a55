namespace TsmLab.Tdisp.Wire;

/// <summary>SET_MMIO_ATTRIBUTE_REQUEST: changes the attributes of one reported range [D1].</summary>
/// <remarks>
/// SET_MMIO_ATTRIBUTE_REQUEST (0x8A, 32 B): one MMIO_RANGE @16 [D1] (§5.3).
/// SET_MMIO_ATTRIBUTE_RESPONSE (0x0A) is header-only (see HeaderOnlyMessage).
/// </remarks>
public readonly ref struct SetMmioAttributeRequest
{
    public const int Size = 32;

    public TdiFunctionId FunctionId { get; }
    public MmioRange Range { get; }

    private SetMmioAttributeRequest(TdiFunctionId id, MmioRange range)
    {
        FunctionId = id;
        Range = range;
    }

    public static bool TryRead(ReadOnlySpan<byte> message, out SetMmioAttributeRequest result)
    {
        result = default;
        if (!TdispHeader.Matches(message, (byte)TdispRequestCode.SetMmioAttribute, Size) || !TdispHeader.TryRead(message, out var h))
            return false;
        result = new SetMmioAttributeRequest(h.FunctionId, MmioRange.Read(message[16..]));
        return true;
    }

    public static int Write(Span<byte> destination, TdiFunctionId functionId, in MmioRange range)
    {
        var m = TdispHeader.Begin(destination, (byte)TdispRequestCode.SetMmioAttribute, functionId, Size);
        range.Write(m[16..]);
        return Size;
    }
}
