using TsmLab.Spdm.Wire;

namespace TsmLab.Spdm.Responder;

/// <summary>How far the connection has got (DSP0274 connection states, as libspdm names them) [SP1,D3].</summary>
public enum SpdmConnectionState
{
    NotStarted,
    AfterVersion,
    AfterCapabilities,
    Negotiated,
    AfterDigests,
    AfterCertificate,
    Authenticated,
}

/// <summary>Where a request may arrive: outside a session, inside one, or both.</summary>
[Flags]
public enum SpdmRequestScope
{
    Plain = 1,
    Secured = 2,
    Both = Plain | Secured,
}

/// <summary>One row of the responder's request table: what the generic checks need before the handler runs.</summary>
/// <param name="Code">The request code.</param>
/// <param name="Name">DSP0274's name, for docs and traces.</param>
/// <param name="MinimumSize">Bytes below which the request is InvalidRequest (the handler checks the exact, version-dependent size).</param>
/// <param name="State">The connection state the request needs (UnexpectedRequest below it).</param>
/// <param name="Scope">Where the request is accepted.</param>
/// <param name="Capability">The responder capability the request needs (UnsupportedRequest without it); None for always.</param>
/// <param name="OutsideSessionError">The ERROR for a session-only request outside a session.</param>
/// <param name="Handle">The handler, run once every generic check passed.</param>
internal sealed record SpdmRequestRow(byte Code, string Name, int MinimumSize, SpdmConnectionState State, SpdmRequestScope Scope,
    SpdmCapabilities Capability, SpdmErrorCode OutsideSessionError, SpdmResponder.Handler Handle)
{
    /// <summary>The requester capability the request also needs (libspdm checks both ends [SP5]); None for none.</summary>
    public SpdmCapabilities PeerCapability { get; init; }
}

/// <summary>
/// The responder's dispatch table, one row per request code [SP1]. <see cref="SpdmResponder"/> runs the
/// generic checks in this order — length, known code, response state (Busy / RequestResynch),
/// version, capability (the responder's, then the requester's), session scope, handshake phase, connection state, minimum size — and only then the row's
/// handler (STYLE.md: table dispatch, errors as protocol answers).
/// </summary>
internal static class SpdmRequestTable
{
    public static readonly SpdmRequestRow[] Rows =
    [
        new(SpdmCode.GetVersion, "GET_VERSION", 4, SpdmConnectionState.NotStarted, SpdmRequestScope.Plain, SpdmCapabilities.None, SpdmErrorCode.UnexpectedRequest, static (r, c) => r.GetVersion(c)),
        new(SpdmCode.GetCapabilities, "GET_CAPABILITIES", 20, SpdmConnectionState.AfterVersion, SpdmRequestScope.Plain, SpdmCapabilities.None, SpdmErrorCode.UnexpectedRequest, static (r, c) => r.GetCapabilities(c)),
        new(SpdmCode.NegotiateAlgorithms, "NEGOTIATE_ALGORITHMS", 32, SpdmConnectionState.AfterCapabilities, SpdmRequestScope.Plain, SpdmCapabilities.None, SpdmErrorCode.UnexpectedRequest, static (r, c) => r.NegotiateAlgorithms(c)),
        new(SpdmCode.GetDigests, "GET_DIGESTS", 4, SpdmConnectionState.Negotiated, SpdmRequestScope.Both, SpdmCapabilities.Cert, SpdmErrorCode.UnexpectedRequest, static (r, c) => r.GetDigests(c)),
        new(SpdmCode.GetCertificate, "GET_CERTIFICATE", 8, SpdmConnectionState.Negotiated, SpdmRequestScope.Both, SpdmCapabilities.Cert, SpdmErrorCode.UnexpectedRequest, static (r, c) => r.GetCertificate(c)),
        new(SpdmCode.Challenge, "CHALLENGE", 36, SpdmConnectionState.Negotiated, SpdmRequestScope.Plain, SpdmCapabilities.Chal, SpdmErrorCode.UnexpectedRequest, static (r, c) => r.Challenge(c)),
        new(SpdmCode.GetMeasurements, "GET_MEASUREMENTS", 4, SpdmConnectionState.Negotiated, SpdmRequestScope.Both, SpdmCapabilities.MeasSig, SpdmErrorCode.UnexpectedRequest, static (r, c) => r.GetMeasurements(c)),
        new(SpdmCode.KeyExchange, "KEY_EXCHANGE", 42, SpdmConnectionState.Negotiated, SpdmRequestScope.Plain, SpdmCapabilities.KeyEx, SpdmErrorCode.UnexpectedRequest, static (r, c) => r.KeyExchange(c)) { PeerCapability = SpdmCapabilities.KeyEx },
        new(SpdmCode.Finish, "FINISH", 4, SpdmConnectionState.Negotiated, SpdmRequestScope.Both, SpdmCapabilities.KeyEx, SpdmErrorCode.SessionRequired, static (r, c) => r.Finish(c)) { PeerCapability = SpdmCapabilities.KeyEx },
        new(SpdmCode.PskExchange, "PSK_EXCHANGE", 12, SpdmConnectionState.Negotiated, SpdmRequestScope.Plain, SpdmCapabilities.PskWithContext, SpdmErrorCode.UnexpectedRequest, static (r, c) => r.PskExchange(c)) { PeerCapability = SpdmCapabilities.PskNoContext },
        new(SpdmCode.PskFinish, "PSK_FINISH", 4, SpdmConnectionState.Negotiated, SpdmRequestScope.Secured, SpdmCapabilities.PskWithContext, SpdmErrorCode.SessionRequired, static (r, c) => r.PskFinish(c)) { PeerCapability = SpdmCapabilities.PskNoContext },
        new(SpdmCode.ChunkGet, "CHUNK_GET", 4, SpdmConnectionState.Negotiated, SpdmRequestScope.Both, SpdmCapabilities.Chunk, SpdmErrorCode.UnexpectedRequest, static (r, c) => r.ChunkGet(c)) { PeerCapability = SpdmCapabilities.Chunk },
        new(SpdmCode.Heartbeat, "HEARTBEAT", 4, SpdmConnectionState.Negotiated, SpdmRequestScope.Secured, SpdmCapabilities.Hbeat, SpdmErrorCode.SessionRequired, static (r, c) => r.Heartbeat(c)) { PeerCapability = SpdmCapabilities.Hbeat },
        new(SpdmCode.KeyUpdate, "KEY_UPDATE", 4, SpdmConnectionState.Negotiated, SpdmRequestScope.Secured, SpdmCapabilities.KeyUpd, SpdmErrorCode.SessionRequired, static (r, c) => r.KeyUpdate(c)) { PeerCapability = SpdmCapabilities.KeyUpd },
        new(SpdmCode.EndSession, "END_SESSION", 4, SpdmConnectionState.Negotiated, SpdmRequestScope.Secured, SpdmCapabilities.None, SpdmErrorCode.SessionRequired, static (r, c) => r.EndSession(c)),
        new(SpdmCode.VendorDefinedRequest, "VENDOR_DEFINED_REQUEST", 4, SpdmConnectionState.Negotiated, SpdmRequestScope.Secured, SpdmCapabilities.None, SpdmErrorCode.SessionRequired, static (r, c) => r.VendorDefined(c)),
    ];

    private static readonly SpdmRequestRow?[] ByCode = Index();

    public static SpdmRequestRow? Find(byte code) => ByCode[code];

    private static SpdmRequestRow?[] Index()
    {
        var t = new SpdmRequestRow?[256];
        foreach (var r in Rows) t[r.Code] = r;
        return t;
    }
}
