using System.Buffers.Binary;

namespace TsmLab.Tdisp.Wire;

/// <summary>GET_TDISP_CAPABILITIES request [D1].</summary>
/// <remarks>
/// GET_TDISP_CAPABILITIES (0x82, 20 B): tsm_caps u32 @16. TDISP_CAPABILITIES (0x02, 44 B): dsm_caps
/// u32 @16; req_msgs_supported[16] @20; lock_interface_flags_supported u16 @36; reserved[3] @38;
/// dev_addr_width u8 @41; num_req_this u8 @42; num_req_all u8 @43. [D1] (§5.3) req_msgs_supported:
/// bit (code - 0x80), so 0x81..0x87 is 0xFE in byte 0 [E1,V1].
/// </remarks>
public readonly ref struct GetTdispCapabilitiesRequest
{
    public const int Size = 20;

    public TdiFunctionId FunctionId { get; }
    public uint TsmCaps { get; }

    private GetTdispCapabilitiesRequest(TdiFunctionId id, uint caps)
    {
        FunctionId = id;
        TsmCaps = caps;
    }

    public static bool TryRead(ReadOnlySpan<byte> message, out GetTdispCapabilitiesRequest result)
    {
        result = default;
        if (!TdispHeader.Matches(message, (byte)TdispRequestCode.GetTdispCapabilities, Size) || !TdispHeader.TryRead(message, out var h))
            return false;
        result = new GetTdispCapabilitiesRequest(h.FunctionId, BinaryPrimitives.ReadUInt32LittleEndian(message[16..]));
        return true;
    }

    public static int Write(Span<byte> destination, TdiFunctionId functionId, uint tsmCaps)
    {
        var m = TdispHeader.Begin(destination, (byte)TdispRequestCode.GetTdispCapabilities, functionId, Size);
        BinaryPrimitives.WriteUInt32LittleEndian(m[16..], tsmCaps);
        return Size;
    }
}

/// <summary>The DSM's TDISP capabilities as carried in TDISP_CAPABILITIES [D1].</summary>
/// <param name="DsmCaps">b0 XT_MODE_SUPPORTED.</param>
/// <param name="RequestsSupported">Bitmap (16 bytes) with bit (code - 0x80) per supported request code.</param>
/// <param name="LockFlagsSupported">LOCK_INTERFACE flags the DSM accepts.</param>
/// <param name="DeviceAddressWidth">DMA address width in bits.</param>
/// <param name="NumRequestsThis">Outstanding requests this TDI may issue.</param>
/// <param name="NumRequestsAll">Outstanding requests all TDIs together may issue.</param>
public readonly record struct TdispCapabilities(
    uint DsmCaps,
    UInt128 RequestsSupported,
    LockInterfaceFlags LockFlagsSupported,
    byte DeviceAddressWidth,
    byte NumRequestsThis,
    byte NumRequestsAll)
{
    public const uint XtModeSupported = 1;

    /// <summary>Whether the bitmap names <paramref name="code"/> as supported.</summary>
    public bool Supports(byte code) => code >= 0x80 && ((RequestsSupported >> (code - 0x80)) & UInt128.One) != UInt128.Zero;

    /// <summary>Sets the bit for <paramref name="code"/> (0x80..0xFF).</summary>
    public static UInt128 RequestBit(byte code) => UInt128.One << (code - 0x80);
}

/// <summary>TDISP_CAPABILITIES response [D1].</summary>
public readonly ref struct TdispCapabilitiesResponse
{
    public const int Size = 44;

    public TdiFunctionId FunctionId { get; }
    public TdispCapabilities Capabilities { get; }

    private TdispCapabilitiesResponse(TdiFunctionId id, TdispCapabilities caps)
    {
        FunctionId = id;
        Capabilities = caps;
    }

    public static bool TryRead(ReadOnlySpan<byte> message, out TdispCapabilitiesResponse result)
    {
        result = default;
        if (!TdispHeader.Matches(message, (byte)TdispResponseCode.TdispCapabilities, Size) || !TdispHeader.TryRead(message, out var h))
            return false;
        var bitmap = new UInt128(BinaryPrimitives.ReadUInt64LittleEndian(message[28..]), BinaryPrimitives.ReadUInt64LittleEndian(message[20..]));
        result = new TdispCapabilitiesResponse(h.FunctionId, new TdispCapabilities(
            BinaryPrimitives.ReadUInt32LittleEndian(message[16..]),
            bitmap,
            (LockInterfaceFlags)BinaryPrimitives.ReadUInt16LittleEndian(message[36..]),
            message[41], message[42], message[43]));
        return true;
    }

    public static int Write(Span<byte> destination, TdiFunctionId functionId, in TdispCapabilities caps)
    {
        var m = TdispHeader.Begin(destination, (byte)TdispResponseCode.TdispCapabilities, functionId, Size);
        BinaryPrimitives.WriteUInt32LittleEndian(m[16..], caps.DsmCaps);
        BinaryPrimitives.WriteUInt64LittleEndian(m[20..], (ulong)caps.RequestsSupported);
        BinaryPrimitives.WriteUInt64LittleEndian(m[28..], (ulong)(caps.RequestsSupported >> 64));
        BinaryPrimitives.WriteUInt16LittleEndian(m[36..], (ushort)caps.LockFlagsSupported);
        m[41] = caps.DeviceAddressWidth;
        m[42] = caps.NumRequestsThis;
        m[43] = caps.NumRequestsAll;
        return Size;
    }
}
