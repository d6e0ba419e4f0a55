using System.Globalization;
using TsmLab.Tdisp.Device;
using TsmLab.Tdisp.Wire;

namespace TsmLab.Tracing;

/// <summary>
/// Records a TDISP device's side of the trace: every TDISP / IDE_KM exchange decoded (message
/// names, the function, the TDI state before and after, the TDISP_ERROR answered) and every TDI
/// state change with its cause. Key material never enters the trace: IDE_KM is recorded by
/// object id only.
/// </summary>
public static class DeviceTrace
{
    /// <summary>Chains onto the device's hooks; existing listeners keep running first.</summary>
    /// <param name="dsm">The device.</param>
    /// <param name="log">Where to record.</param>
    /// <param name="host">Names the host in state-change events, so TDIs of different hosts in one log stay apart.</param>
    public static void Attach(DeviceSecurityManager dsm, TraceLog log, string? host = null)
    {
        // A change a TDISP request causes is reported by the device before the exchange ends; it is
        // held until the message is recorded, so the trace reads request, then change.
        var pending = new List<TdiStateChange>();
        var exchanged = dsm.Exchanged;
        dsm.Exchanged = e =>
        {
            exchanged?.Invoke(e);
            Record(log, e);
            foreach (var c in pending) RecordChange(log, c, host);
            pending.Clear();
        };
        var changed = dsm.StateChanged;
        dsm.StateChanged = c =>
        {
            changed?.Invoke(c);
            if (c.Cause is TdiStateChangeCause.LockInterface or TdiStateChangeCause.StartInterface or TdiStateChangeCause.StopInterface) pending.Add(c);
            else RecordChange(log, c, host);
        };
    }

    private static void RecordChange(TraceLog log, TdiStateChange c, string? host) =>
        log.Record(TraceLayer.Device, TraceLayer.Device, TraceKind.StateChange, host is null ? $"TDI {c.FunctionId}" : $"{host}: TDI {c.FunctionId}", $"{c.From} -> {c.To}",
            new("function_id", $"0x{c.FunctionId.Value:x}"), new("from", c.From.ToString()), new("to", c.To.ToString()), new("cause", c.Cause.ToString()));

    private static void Record(TraceLog log, TdispExchangeEvent e)
    {
        string request, response;
        if (e.Protocol == VdmProtocolId.IdeKm)
        {
            request = "IDE_KM " + (Enum.IsDefined((IdeKmObjectId)e.RequestCode) ? ((IdeKmObjectId)e.RequestCode).ToString() : $"0x{e.RequestCode:x2}");
            response = e.ResponseCode is { } r ? (Enum.IsDefined((IdeKmObjectId)r) ? ((IdeKmObjectId)r).ToString() : $"0x{r:x2}") : "no response";
        }
        else
        {
            request = Enum.IsDefined((TdispRequestCode)e.RequestCode) ? ((TdispRequestCode)e.RequestCode).ToString() : $"0x{e.RequestCode:x2}";
            response = e.ResponseCode is not { } r ? "no response"
                : r == (byte)TdispResponseCode.TdispError ? $"TDISP_ERROR {e.Error}"
                : Enum.IsDefined((TdispResponseCode)r) ? ((TdispResponseCode)r).ToString() : $"0x{r:x2}";
        }
        var fields = new List<TraceField>
        {
            new("protocol", e.Protocol.ToString()),
            new("request_code", $"0x{e.RequestCode:x2}"),
            new("response_code", e.ResponseCode is { } rc ? $"0x{rc:x2}" : "none"),
        };
        if (e.Protocol != VdmProtocolId.IdeKm) fields.Add(new("function_id", $"0x{e.FunctionId.Value:x}"));
        if (e.StateBefore is { } b) fields.Add(new("state_before", b.ToString()));
        if (e.StateAfter is { } a) fields.Add(new("state_after", a.ToString()));
        if (e.Error != TdispErrorCode.None) fields.Add(new("error", ((uint)e.Error).ToString(CultureInfo.InvariantCulture)));
        log.Record(TraceLayer.Firmware, TraceLayer.Device, TraceKind.DeviceMessage, request, response, [.. fields]);
    }
}
