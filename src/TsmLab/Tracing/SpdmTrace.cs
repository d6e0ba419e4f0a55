using TsmLab.Spdm.Responder;
using TsmLab.Spdm.Wire;

namespace TsmLab.Tracing;

/// <summary>
/// Records the SPDM side of a device's trace: every SPDM exchange the responder answered, by
/// request and response name, the ERROR code and the session id (type 2 objects are recorded as the
/// messages inside them). No nonce, key, signature or payload byte enters the trace.
/// </summary>
public static class SpdmTrace
{
    /// <summary>Chains onto the responder's hook; an existing listener keeps running first.</summary>
    public static void Attach(SpdmResponder responder, TraceLog log)
    {
        var exchanged = responder.Exchanged;
        responder.Exchanged = e =>
        {
            exchanged?.Invoke(e);
            string response = e.ResponseCode == SpdmCode.Error ? $"ERROR {(SpdmErrorCode)e.ErrorCode}" : SpdmCode.Name(e.ResponseCode);
            var fields = new List<TraceField>
            {
                new("protocol", "SPDM"),
                new("request_code", $"0x{e.RequestCode:x2}"),
                new("response_code", $"0x{e.ResponseCode:x2}"),
            };
            if (e.SessionId != 0) fields.Add(new("session_id", $"0x{e.SessionId:x8}"));
            if (e.ResponseCode == SpdmCode.Error) fields.Add(new("error", $"0x{e.ErrorCode:x2}"));
            log.Record(TraceLayer.Firmware, TraceLayer.Device, TraceKind.DeviceMessage, SpdmCode.Name(e.RequestCode), response, [.. fields]);
        };
    }
}
