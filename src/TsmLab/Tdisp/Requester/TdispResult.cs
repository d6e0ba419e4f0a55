using TsmLab.Tdisp.Wire;

namespace TsmLab.Tdisp.Requester;

/// <summary>How an exchange ended.</summary>
/// <remarks>
/// What a typed requester call returns: the decoded answer, the device's TDISP_ERROR, or a note
/// that no well-formed answer came back. Device errors are values, never exceptions.
/// </remarks>
public enum TdispOutcome
{
    /// <summary>The expected response arrived and decoded.</summary>
    Success,
    /// <summary>The device answered TDISP_ERROR (see <see cref="TdispResult{T}.Error"/>).</summary>
    DeviceError,
    /// <summary>No answer, or an answer of the wrong type or shape.</summary>
    MalformedResponse,
}

/// <summary>The result of a typed TDISP call: a value, or the device's error code and data.</summary>
public readonly record struct TdispResult<T>(TdispOutcome Outcome, T? Value, TdispErrorCode Error, uint ErrorData)
{
    public bool IsSuccess => Outcome == TdispOutcome.Success;

    public static TdispResult<T> Ok(T value) => new(TdispOutcome.Success, value, TdispErrorCode.None, 0);
    public static TdispResult<T> DeviceFailed(TdispErrorCode code, uint data) => new(TdispOutcome.DeviceError, default, code, data);
    public static TdispResult<T> Malformed() => new(TdispOutcome.MalformedResponse, default, TdispErrorCode.None, 0);

    /// <summary>The same failure carried as another value type.</summary>
    public TdispResult<TOther> As<TOther>() => new(Outcome, default, Error, ErrorData);

    public override string ToString() => Outcome switch
    {
        TdispOutcome.Success => $"ok {Value}",
        TdispOutcome.DeviceError => $"TDISP_ERROR {Error} (data 0x{ErrorData:x})",
        _ => "malformed response",
    };
}

/// <summary>The empty answer of START/STOP/BIND/UNBIND/SET_MMIO_ATTRIBUTE/SET_TDISP_CONFIG.</summary>
public readonly record struct TdispAck;

/// <summary>A reassembled device interface report: the raw bytes and the decoded fields and ranges.</summary>
public sealed record DeviceInterfaceReport(byte[] Bytes, InterfaceReportFields Fields, IReadOnlyList<MmioRange> Ranges, byte[] DeviceSpecificInfo)
{
    /// <summary>Decodes a complete report body; null when it is inconsistent.</summary>
    public static DeviceInterfaceReport? Parse(byte[] bytes)
    {
        if (!InterfaceReport.TryRead(bytes, out var r))
            return null;
        var ranges = new MmioRange[r.RangeCount];
        for (int i = 0; i < ranges.Length; i++)
            ranges[i] = r.GetRange(i);
        return new DeviceInterfaceReport(bytes, r.Fields, ranges, r.DeviceSpecificInfo.ToArray());
    }
}

/// <summary>The answer to IDE_KM QUERY [D4].</summary>
public sealed record IdeKmQueryAnswer(byte PortIndex, byte DevFuncNumber, byte BusNumber, byte Segment, byte MaxPortIndex, IReadOnlyList<uint> Registers);

/// <summary>The answer to IDE_KM KEY_PROG, K_SET_GO or K_SET_STOP [D4]: Answered is false when the device gave no
/// answer (the SPDM layer answered ERROR), else the acknowledgement's status and echoed fields.</summary>
public readonly record struct IdeKmAck(bool Answered, IdeKmObjectId ObjectId, KpAckStatus Status, byte StreamId, IdeKeySubStream KeySubStream, byte PortIndex)
{
    public bool IsSuccess => Answered && Status == KpAckStatus.Success;
}
