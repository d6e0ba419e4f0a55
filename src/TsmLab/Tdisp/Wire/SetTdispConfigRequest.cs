using System.Buffers.Binary;

namespace TsmLab.Tdisp.Wire;

/// <summary>SET_TDISP_CONFIG_REQUEST dsm_config bits [D1].</summary>
/// <remarks>
/// SET_TDISP_CONFIG_REQUEST (0x8C, 20 B, newer TDISP with XT): dsm_config u32 @16 (b0
/// XT_MODE_ENABLE, b1 XT_BIT_FOR_LOCKED_MSIX) [D1] (§5.3). SET_TDISP_CONFIG_RESPONSE (0x0C) is
/// header-only (see HeaderOnlyMessage).
/// </remarks>
[Flags]
public enum TdispDsmConfig : uint
{
    None = 0,
    XtModeEnable = 1 << 0,
    XtBitForLockedMsix = 1 << 1,
}

/// <summary>SET_TDISP_CONFIG_REQUEST [D1].</summary>
public readonly ref struct SetTdispConfigRequest
{
    public const int Size = 20;

    public TdiFunctionId FunctionId { get; }
    public TdispDsmConfig DsmConfig { get; }

    private SetTdispConfigRequest(TdiFunctionId id, TdispDsmConfig config)
    {
        FunctionId = id;
        DsmConfig = config;
    }

    public static bool TryRead(ReadOnlySpan<byte> message, out SetTdispConfigRequest result)
    {
        result = default;
        if (!TdispHeader.Matches(message, (byte)TdispRequestCode.SetTdispConfig, Size) || !TdispHeader.TryRead(message, out var h))
            return false;
        result = new SetTdispConfigRequest(h.FunctionId, (TdispDsmConfig)BinaryPrimitives.ReadUInt32LittleEndian(message[16..]));
        return true;
    }

    public static int Write(Span<byte> destination, TdiFunctionId functionId, TdispDsmConfig config)
    {
        var m = TdispHeader.Begin(destination, (byte)TdispRequestCode.SetTdispConfig, functionId, Size);
        BinaryPrimitives.WriteUInt32LittleEndian(m[16..], (uint)config);
        return Size;
    }
}
