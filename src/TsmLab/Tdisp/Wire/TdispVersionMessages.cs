namespace TsmLab.Tdisp.Wire;

/// <summary>TDISP_VERSION response: the TDISP versions the DSM speaks [D1].</summary>
/// <remarks>
/// TDISP_VERSION (0x01) [D1] (§5.3): header, version_num_count u8 @16, then count x u8 @17.
/// GET_TDISP_VERSION (0x81) is header-only (see HeaderOnlyMessage).
/// </remarks>
public readonly ref struct TdispVersionResponse
{
    public const int FixedSize = 17;

    public TdiFunctionId FunctionId { get; }
    /// <summary>The version bytes (0x10 = TDISP 1.0).</summary>
    public ReadOnlySpan<byte> Versions { get; }

    private TdispVersionResponse(TdiFunctionId id, ReadOnlySpan<byte> versions)
    {
        FunctionId = id;
        Versions = versions;
    }

    public static bool TryRead(ReadOnlySpan<byte> message, out TdispVersionResponse result)
    {
        result = default;
        if (message.Length < FixedSize || message[0] != TdispHeader.Version10 || message[1] != (byte)TdispResponseCode.TdispVersion)
            return false;
        int count = message[16];
        if (message.Length != FixedSize + count || !TdispHeader.TryRead(message, out var h))
            return false;
        result = new TdispVersionResponse(h.FunctionId, message.Slice(FixedSize, count));
        return true;
    }

    public static int Write(Span<byte> destination, TdiFunctionId functionId, ReadOnlySpan<byte> versions)
    {
        var m = TdispHeader.Begin(destination, (byte)TdispResponseCode.TdispVersion, functionId, FixedSize + versions.Length);
        m[16] = (byte)versions.Length;
        versions.CopyTo(m[FixedSize..]);
        return m.Length;
    }
}
