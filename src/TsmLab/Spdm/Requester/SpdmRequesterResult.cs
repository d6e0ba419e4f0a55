using TsmLab.Spdm.Wire;

namespace TsmLab.Spdm.Requester;

/// <summary>The outcome of one requester operation: success, or why it failed (never an exception for what the device sent).</summary>
/// <param name="Ok">Whether the operation succeeded and everything verified.</param>
/// <param name="Reason">One line for logs and `tsmlab info` when it did not.</param>
/// <param name="Error">The responder's ERROR code when it answered one.</param>
public readonly record struct SpdmRequesterResult(bool Ok, string? Reason = null, SpdmErrorCode? Error = null)
{
    public static SpdmRequesterResult Success { get; } = new(true);

    public static SpdmRequesterResult Fail(string reason) => new(false, reason);

    public override string ToString() => Ok ? "ok" : Error is { } e ? $"{Reason} (ERROR {e})" : Reason ?? "failed";
}
