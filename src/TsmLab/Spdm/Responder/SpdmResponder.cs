using System.Buffers.Binary;
using TsmLab.Spdm.Session;
using TsmLab.Spdm.Wire;
using TsmLab.Tdisp.Device;
using TsmLab.Tdisp.Wire;

namespace TsmLab.Spdm.Responder;

/// <summary>The responder's answer to its integrator about the device's readiness (DSP0274 Busy / RequestResynch) [SP1].</summary>
public enum SpdmResponseState
{
    Normal,
    /// <summary>Every request is answered ERROR Busy.</summary>
    Busy,
    /// <summary>After a device reset: every request but GET_VERSION is answered ERROR RequestResynch.</summary>
    NeedResync,
}

/// <summary>
/// An SPDM responder (DSP0274 1.2, 1.3, 1.4) for a device's DOE mailbox: plain SPDM (DOE type 1) and
/// DSP0277 secured messages (type 2) [SP1,SP2,SP3].
/// </summary>
/// <remarks>
/// Requests go through one table (<see cref="SpdmRequestTable"/>) whose generic checks answer the
/// ERROR DSP0274 prescribes before a handler sees the message; handlers validate their exact,
/// version-dependent size and build the response and transcripts (VCA; M1 = VCA || B || C for
/// CHALLENGE_AUTH; L1/L2 = VCA || GET_MEASUREMENTS..MEASUREMENTS for signed MEASUREMENTS; TH for
/// KEY_EXCHANGE and FINISH). Nothing from outside is trusted for a length; no exception escapes for
/// any input (ExceptionsNeverEscape property test). Thread safety: one lock serialises every
/// exchange, as a DOE mailbox handles one object at a time; it guards all connection and session
/// state. Called by DoeMailbox; VENDOR_DEFINED payloads go to the device's <see cref="IVdmResponder"/>.
/// </remarks>
public sealed partial class SpdmResponder : ISpdmDoeEndpoint
{
    /// <summary>One request handler: returns the response size written to the context's response.</summary>
    internal delegate int Handler(SpdmResponder responder, RequestContext context);

    private readonly Lock gate = new();
    private readonly Func<SpdmResponderIdentity> identitySource;
    private readonly IVdmResponder? device;
    private readonly byte[] vdmPayload;
    private readonly byte[] plainIn;
    private readonly byte[] plainOut;
    private SpdmResponderIdentity? identity;
    private uint? newSession;

    /// <summary>A responder proving <paramref name="identity"/> (built on first use) and relaying vendor-defined payloads to <paramref name="device"/>.</summary>
    public SpdmResponder(Func<SpdmResponderIdentity> identity, IVdmResponder? device, SpdmResponderSettings? settings = null)
    {
        identitySource = identity;
        this.device = device;
        Settings = settings ?? new SpdmResponderSettings();
        vdmPayload = new byte[Math.Max(16, device?.MaxResponseSize ?? 0)];
        MaxResponseSize = Math.Max(Settings.DataTransferSize, SpdmVendorDefinedMessage.LargeHeaderSize + vdmPayload.Length) + SecuredMessage.Overhead + 4;
        plainIn = new byte[MaxResponseSize];
        plainOut = new byte[MaxResponseSize];
    }

    public SpdmResponderSettings Settings { get; }

    /// <summary>The largest DOE body this responder writes.</summary>
    public int MaxResponseSize { get; }

    /// <summary>Busy / NeedResync as the device decides (a reset sets NeedResync; GET_VERSION clears it).</summary>
    public SpdmResponseState ResponseState { get; set; }

    public SpdmConnectionState ConnectionState { get; private set; }

    /// <summary>The negotiated SPDM version (0 before GET_CAPABILITIES).</summary>
    public byte Version { get; private set; }

    public SpdmAlgorithmSet Algorithms { get; private set; }

    /// <summary>Live sessions by session id (observation for tests and traces).</summary>
    public IReadOnlyDictionary<uint, SpdmSession> Sessions
    {
        get { lock (gate) return sessions.ToDictionary(p => p.Key, p => p.Value.Session); }
    }

    /// <summary>Called after every SPDM exchange with the request and response codes and the session id (0 outside one); null = none.</summary>
    public Action<SpdmExchangeEvent>? Exchanged { get; set; }

    private SpdmResponderIdentity Identity => identity ??= identitySource();

    /// <summary>A device reset: sessions end, the connection must be rebuilt (RequestResynch until GET_VERSION).</summary>
    public void Reset()
    {
        lock (gate)
        {
            ResetConnection();
            ResponseState = SpdmResponseState.NeedResync;
        }
    }

    /// <summary>Answers one DOE body of type 1 (SPDM) or 2 (secured SPDM) [SP3].</summary>
    public int Respond(DoeObjectType type, ReadOnlySpan<byte> body, Span<byte> responseBody, out DoeObjectType responseType)
    {
        lock (gate)
        {
            responseType = type;
            return type switch
            {
                DoeObjectType.Spdm => Dispatch(body, responseBody, null),
                DoeObjectType.SecuredSpdm => RespondSecured(body, responseBody, out responseType),
                _ => 0,
            };
        }
    }

    /// <summary>Answers a plain SPDM message (no DOE header).</summary>
    public int RespondPlain(ReadOnlySpan<byte> request, Span<byte> response)
    {
        lock (gate) return Dispatch(request, response, null);
    }

    private int RespondSecured(ReadOnlySpan<byte> secured, Span<byte> response, out DoeObjectType responseType)
    {
        responseType = DoeObjectType.SecuredSpdm;
        if (!SecuredMessage.TryReadSessionId(secured, out uint id) || !sessions.TryGetValue(id, out var entry)
            || entry.Session.RequestAead is not { } rx || entry.Session.ResponseAead is null)
        {
            // No session to answer in: a plain ERROR (TsmLab definition: DSP0277 leaves an unknown session id to the binding).
            responseType = DoeObjectType.Spdm;
            return SpdmErrorMessage.Write(response, ErrorVersion, SpdmErrorCode.InvalidRequest);
        }
        int n = SecuredMessage.Open(rx, secured, plainIn);
        if (n < 0)
        {
            // Tampered, replayed or reordered (the implicit sequence number differs): DSP0277 ends the session;
            // the DecryptError goes in the clear since no key is usable any more.
            EndSession(id);
            responseType = DoeObjectType.Spdm;
            return SpdmErrorMessage.Write(response, ErrorVersion, SpdmErrorCode.DecryptError);
        }
        int m = Dispatch(plainIn.AsSpan(0, n), plainOut, entry);
        if (m == 0 || entry.Session.ResponseAead is not { } tx)
        {
            responseType = DoeObjectType.Spdm;
            return m == 0 ? 0 : SpdmErrorMessage.Write(response, ErrorVersion, SpdmErrorCode.Unspecified);
        }
        int sealedSize = SecuredMessage.Seal(id, tx, plainOut.AsSpan(0, m), response);
        RunAfterSeal(entry);
        return sealedSize;
    }

    private byte ErrorVersion => ConnectionState >= SpdmConnectionState.AfterCapabilities ? Version : SpdmVersion.V10;

    private int Dispatch(ReadOnlySpan<byte> request, Span<byte> response, SessionEntry? session)
    {
        int n = DispatchChecked(request, response, session, out byte code);
        Exchanged?.Invoke(new SpdmExchangeEvent(code, n >= 2 ? response[1] : (byte)0, n >= 3 && response[1] == SpdmCode.Error ? response[2] : (byte)0, session?.Session.SessionId ?? 0));
        return n;
    }

    private int DispatchChecked(ReadOnlySpan<byte> request, Span<byte> response, SessionEntry? session, out byte code)
    {
        code = request.Length >= 2 ? request[1] : (byte)0;
        if (request.Length < 4)
            return Error(response, SpdmErrorCode.InvalidRequest);
        var row = SpdmRequestTable.Find(code);
        if (row is null)
            return Error(response, SpdmErrorCode.UnsupportedRequest, code);

        if (row.Code == SpdmCode.GetVersion)
        {
            if (ResponseState == SpdmResponseState.Busy) return Error(response, SpdmErrorCode.Busy);
            if (request[0] != SpdmVersion.V10)
                return SpdmErrorMessage.Write(response, SpdmVersion.V10, SpdmErrorCode.VersionMismatch);
        }
        else
        {
            if (ResponseState == SpdmResponseState.NeedResync) return Error(response, SpdmErrorCode.RequestResynch);
            if (ResponseState == SpdmResponseState.Busy) return Error(response, SpdmErrorCode.Busy);
            if (ConnectionState < SpdmConnectionState.AfterVersion)
                return Error(response, SpdmErrorCode.UnexpectedRequest);
            bool versionOk = row.Code == SpdmCode.GetCapabilities ? Settings.Versions.Contains(request[0]) : request[0] == Version;
            if (!versionOk)
                return Error(response, SpdmErrorCode.VersionMismatch);
        }
        if (row.Capability != SpdmCapabilities.None && (Settings.Capabilities & row.Capability) == 0)
            return Error(response, SpdmErrorCode.UnsupportedRequest, code);
        // The requester's own flag (after CAPABILITIES; the requester's PSK_CAP is bit 10 or 11).
        var peer = row.PeerCapability == SpdmCapabilities.PskNoContext ? SpdmCapabilities.PskNoContext | SpdmCapabilities.PskWithContext : row.PeerCapability;
        if (peer != SpdmCapabilities.None && ConnectionState >= SpdmConnectionState.AfterCapabilities && (peerCapabilities & peer) == 0)
            return Error(response, SpdmErrorCode.UnsupportedRequest, code);
        if (session is not null && (row.Scope & SpdmRequestScope.Secured) == 0)
            return Error(response, SpdmErrorCode.UnexpectedRequest);
        if (session is null && (row.Scope & SpdmRequestScope.Plain) == 0)
            return Error(response, row.OutsideSessionError);
        // While the handshake keys protect the session, only FINISH (PSK_FINISH for a PSK session) is expected (DSP0274; the responder validator checks it).
        if (session is not null && session.Session.State == SpdmSessionState.Handshaking && row.Code != (session.Session.UsesPsk ? SpdmCode.PskFinish : SpdmCode.Finish))
            return Error(response, SpdmErrorCode.UnexpectedRequest);
        if (ConnectionState < row.State)
            return Error(response, SpdmErrorCode.UnexpectedRequest);
        if (request.Length < row.MinimumSize)
            return Error(response, SpdmErrorCode.InvalidRequest);

        if (row.Code != SpdmCode.ChunkGet) DropLargeResponse();
        int n = row.Handle(this, new RequestContext(request, response, session));
        // A handler that built its answer for CHUNK_GET (largeSize set: it was dropped above) succeeded too.
        bool builtLarge = largeSize > 0 && row.Code != SpdmCode.ChunkGet;
        if (n > 0 && (response[1] != SpdmCode.Error || builtLarge) && row.Code != SpdmCode.ChunkGet)
        {
            ResetTranscriptsAfter(code, session);
            if (!builtLarge) n = LimitResponse(response, n);
            // A session whose KEY_EXCHANGE_RSP / PSK_EXCHANGE_RSP could not be delivered does not stay behind.
            if (response[1] == SpdmCode.Error && response[2] == (byte)SpdmErrorCode.ResponseTooLarge && newSession is { } orphan) EndSession(orphan);
        }
        newSession = null;
        return n;
    }

    /// <summary>An ERROR with the connection's version (1.0 before one is negotiated).</summary>
    internal int Error(Span<byte> response, SpdmErrorCode code, byte data = 0) => SpdmErrorMessage.Write(response, ErrorVersion, code, data);

    /// <summary>The request and response of one handler call.</summary>
    internal readonly ref struct RequestContext(ReadOnlySpan<byte> request, Span<byte> response, SessionEntry? session)
    {
        public ReadOnlySpan<byte> Request { get; } = request;
        public Span<byte> Response { get; } = response;
        public SessionEntry? Session { get; } = session;
    }

    /// <summary>Writes the 4-byte header of a response.</summary>
    internal void Header(Span<byte> response, byte code, byte param1 = 0, byte param2 = 0)
    {
        response[0] = Version;
        response[1] = code;
        response[2] = param1;
        response[3] = param2;
    }

    private int VendorDefinedToDevice(ReadOnlySpan<byte> request, Span<byte> response)
    {
        byte version = request[0];
        if (device is null || !SpdmVendorDefinedMessage.TryRead(request, out var msg) || msg.Code != SpdmVendorDefinedMessage.RequestCode)
            return SpdmErrorMessage.Write(response, version, SpdmErrorCode.InvalidRequest);
        int n = device.Respond(msg.Payload, vdmPayload);
        if (n == 0)
            return SpdmErrorMessage.Write(response, version, SpdmErrorCode.InvalidRequest);
        return SpdmVendorDefinedMessage.Write(response, msg.SpdmVersion, SpdmVendorDefinedMessage.ResponseCode, msg.IsLarge, vdmPayload.AsSpan(0, n));
    }

    /// <summary>Nonces and RandomData; a source that fails falls back to the OS CSPRNG (TsmLab definition:
    /// DSP0274 has no ERROR for a responder without entropy).</summary>
    private static void Fill(ITdispEntropySource entropy, Span<byte> destination)
    {
        if (!entropy.TryFill(destination))
            System.Security.Cryptography.RandomNumberGenerator.Fill(destination);
    }

    private static void WriteU24(Span<byte> b, int v)
    {
        b[0] = (byte)v;
        b[1] = (byte)(v >> 8);
        b[2] = (byte)(v >> 16);
    }

    private static ushort U16(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt16LittleEndian(b[at..]);
}

/// <summary>One SPDM exchange as the responder saw it (for traces): codes only, never key material.</summary>
public readonly record struct SpdmExchangeEvent(byte RequestCode, byte ResponseCode, byte ErrorCode, uint SessionId);
