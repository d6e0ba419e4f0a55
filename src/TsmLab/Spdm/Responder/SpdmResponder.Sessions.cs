using System.Buffers.Binary;
using System.Security.Cryptography;
using TsmLab.Spdm.Session;
using TsmLab.Spdm.Wire;
using TsmLab.Tdisp.Wire;

namespace TsmLab.Spdm.Responder;

/// <summary>What the secured layer does once a response has been sealed with the current key.</summary>
internal enum AfterSeal
{
    None,
    /// <summary>FINISH_RSP went out under the handshake key: switch to the data keys.</summary>
    SwitchToDataKeys,
    /// <summary>END_SESSION_ACK (or a FINISH DecryptError) went out: the session ends.</summary>
    End,
}

/// <summary>The responder's view of one session: the keys, the session's L1/L2 and what to do after sealing.</summary>
internal sealed class SessionEntry(SpdmSession session)
{
    public SpdmSession Session { get; } = session;
    public List<byte> MessageM { get; } = [];
    public AfterSeal After { get; set; }
    public byte[] Th2Hash { get; set; } = [];
}

/// <summary>KEY_EXCHANGE, FINISH, HEARTBEAT, KEY_UPDATE, END_SESSION and in-session VENDOR_DEFINED [SP1,SP2].</summary>
/// <remarks>
/// KEY_EXCHANGE_RSP: RspSessionID (counting down from 0xFFFF), no mutual authentication, RandomData,
/// the responder's ECDHE public key X||Y, the measurement summary hash when asked, opaque data with
/// the DSP0277 version selection, the signature over Hash(VCA || Hash(cert chain) || KEY_EXCHANGE ||
/// KEY_EXCHANGE_RSP up to the signature) under "responder-key_exchange_rsp signing", and
/// ResponderVerifyData = HMAC(response finished key, TH1) with TH1 the same transcript including the
/// signature. FINISH is checked against HMAC(request finished key, Hash(TH || FINISH up to
/// RequesterVerifyData)); FINISH_RSP carries no verify data (handshake not in the clear) and, at
/// 1.4, an empty opaque field; TH2 adds FINISH and FINISH_RSP. KEY_UPDATE follows libspdm's
/// responder [SP5]: UpdateKey moves the request key, UpdateAllKeys both (the ACK already under the
/// new response key), VerifyNewKey confirms.
/// </remarks>
public sealed partial class SpdmResponder
{
    private readonly Dictionary<uint, SessionEntry> sessions = [];
    private ushort nextRspSessionId = 0xFFFF;

    private void EndSession(uint id)
    {
        if (sessions.Remove(id, out var e)) e.Session.End();
    }

    private void RunAfterSeal(SessionEntry e)
    {
        switch (e.After)
        {
            case AfterSeal.SwitchToDataKeys: e.Session.DeriveDataKeys(e.Th2Hash); break;
            case AfterSeal.End: EndSession(e.Session.SessionId); break;
        }
        e.After = AfterSeal.None;
    }

    internal int KeyExchange(RequestContext c)
    {
        var q = c.Request;
        int d = Algorithms.DheSize, h = Algorithms.HashSize, s = Algorithms.SignatureSize;
        if (d == 0) return Error(c.Response, SpdmErrorCode.UnexpectedRequest);
        int fixedSize = 40 + d;
        if (q.Length < fixedSize + 2) return Error(c.Response, SpdmErrorCode.InvalidRequest);
        int opaqueLen = U16(q, fixedSize);
        int size = fixedSize + 2 + opaqueLen;
        if (q.Length < size || q[3] != 0 || !SummaryHashTypeValid(q[2]) || opaqueLen > 1024)
            return Error(c.Response, SpdmErrorCode.InvalidRequest);
        if (sessions.Count >= Settings.MaxSessions)
            return Error(c.Response, SpdmErrorCode.SessionLimitExceeded);
        var opaque = q.Slice(fixedSize + 2, opaqueLen);
        ushort securedVersion = otherParams == SpdmAlgorithmBits.OpaqueDataFormat1
            ? SpdmOpaqueData.SelectVersion(opaque, [.. Settings.SecuredVersions])
            : SpdmOpaqueData.SecuredVersion11;
        if (securedVersion == 0) return Error(c.Response, SpdmErrorCode.InvalidRequest);

        byte[] secret;
        using var ours = ECDiffieHellman.Create(Algorithms.DheCurve);
        try
        {
            int half = d / 2;
            using var peer = ECDiffieHellman.Create(new ECParameters
            {
                Curve = Algorithms.DheCurve,
                Q = new ECPoint { X = q.Slice(40, half).ToArray(), Y = q.Slice(40 + half, half).ToArray() },
            });
            secret = ours.DeriveRawSecretAgreement(peer.PublicKey);
        }
        catch (CryptographicException)
        {
            return Error(c.Response, SpdmErrorCode.InvalidRequest);
        }

        ushort reqSessionId = U16(q, 4);
        ushort rspSessionId = NextRspSessionId(reqSessionId);
        uint sessionId = reqSessionId | ((uint)rspSessionId << 16);
        var session = new SpdmSession(sessionId, Algorithms, Version, securedVersion);

        var r = c.Response;
        bool heartbeat = (Settings.Capabilities & peerCapabilities & SpdmCapabilities.Hbeat) != 0;
        Header(r, SpdmCode.KeyExchangeRsp, heartbeat ? Settings.HeartbeatPeriod : (byte)0, 0);
        BinaryPrimitives.WriteUInt16LittleEndian(r[4..], rspSessionId);
        r[6] = 0;
        r[7] = 0;
        Fill(Settings.Entropy, r.Slice(8, 32));
        var pub = ours.ExportParameters(false).Q;
        pub.X!.CopyTo(r[40..]);
        pub.Y!.CopyTo(r[(40 + d / 2)..]);
        int at = 40 + d;
        if (q[2] != 0) { MeasurementSummaryHash(q[2]).CopyTo(r[at..]); at += h; }
        int opaqueOut = otherParams == SpdmAlgorithmBits.OpaqueDataFormat1 ? SpdmOpaqueData.WriteVersionSelection(r[(at + 2)..], securedVersion) : 0;
        BinaryPrimitives.WriteUInt16LittleEndian(r[at..], (ushort)opaqueOut);
        at += 2 + opaqueOut;

        var th = session.Transcript;
        th.AddRange(vca);
        th.AddRange(certChainHash);
        th.AddRange(q[..size]);
        th.AddRange(r[..at]);
        SpdmSignature.Sign(Identity.LeafKey, Algorithms, Version, SpdmSignature.KeyExchangeRspContext, th.ToArray(), r.Slice(at, s));
        th.AddRange(r.Slice(at, s));
        at += s;
        var th1 = session.TranscriptHash();
        session.DeriveHandshakeKeys(secret, th1);
        CryptographicOperations.ZeroMemory(secret);
        if (!HandshakeInTheClear)
        {
            // ResponderVerifyData is absent when the handshake is in the clear (FINISH_RSP carries it then).
            Algorithms.Hmac(session.ResponseFinishedKey, th1, r.Slice(at, h));
            th.AddRange(r.Slice(at, h));
            at += h;
        }
        latestSession = sessionId;
        sessions[sessionId] = new SessionEntry(session);
        newSession = sessionId;
        return at;
    }

    private ushort NextRspSessionId(ushort reqSessionId)
    {
        for (int i = 0; i < 0x10000; i++)
        {
            ushort candidate = nextRspSessionId--;
            if (candidate == 0) continue;
            if (!sessions.ContainsKey(reqSessionId | ((uint)candidate << 16))) return candidate;
        }
        return 1;
    }

    /// <summary>Both ends have HANDSHAKE_IN_THE_CLEAR_CAP: FINISH and FINISH_RSP travel outside the session.</summary>
    private bool HandshakeInTheClear => (Settings.Capabilities & peerCapabilities & SpdmCapabilities.HandshakeInTheClear) != 0;

    /// <summary>The session the last KEY_EXCHANGE opened: a FINISH in the clear completes it (as libspdm's latest_session_id [SP5]).</summary>
    private uint latestSession;

    internal int Finish(RequestContext c)
    {
        var e = c.Session;
        if (HandshakeInTheClear)
        {
            // In the clear it must not come in a session, and it names the latest KEY_EXCHANGE's session.
            if (e is not null || !sessions.TryGetValue(latestSession, out e))
                return Error(c.Response, SpdmErrorCode.SessionRequired);
        }
        else if (e is null)
        {
            return Error(c.Response, SpdmErrorCode.SessionRequired);
        }
        if (e.Session.UsesPsk || e.Session.State != SpdmSessionState.Handshaking)
            return Error(c.Response, SpdmErrorCode.UnexpectedRequest);
        return FinishCommon(new RequestContext(c.Request, c.Response, e), SpdmCode.FinishRsp, inClear: c.Session is null);
    }

    /// <summary>FINISH and PSK_FINISH: (1.4 OpaqueData), RequesterVerifyData over TH; the answer ends TH2.</summary>
    private int FinishCommon(RequestContext c, byte responseCode, bool inClear)
    {
        var e = c.Session!;
        var session = e.Session;
        var q = c.Request;
        int h = Algorithms.HashSize;
        int at = 4;
        if (Version >= SpdmVersion.V14)
        {
            if (q.Length < 6) return Error(c.Response, SpdmErrorCode.InvalidRequest);
            at += 2 + U16(q, 4);
        }
        if ((q[2] & 0x01) != 0 || q[3] != 0 || q.Length < at + h)
            return Error(c.Response, SpdmErrorCode.InvalidRequest);
        var th = session.Transcript;
        th.AddRange(q[..at]);
        Span<byte> expected = stackalloc byte[64];
        Algorithms.Hmac(session.RequestFinishedKey, session.TranscriptHash(), expected);
        if (!CryptographicOperations.FixedTimeEquals(expected[..h], q.Slice(at, h)))
        {
            th.RemoveRange(th.Count - at, at);
            if (inClear) EndSession(session.SessionId);
            else e.After = AfterSeal.End;
            return Error(c.Response, SpdmErrorCode.DecryptError);
        }
        th.AddRange(q.Slice(at, h));
        var r = c.Response;
        Header(r, responseCode);
        int n = 4;
        if (Version >= SpdmVersion.V14) { BinaryPrimitives.WriteUInt16LittleEndian(r[4..], 0); n += 2; }
        th.AddRange(r[..n]);
        if (inClear)
        {
            // ResponderVerifyData = HMAC(response finished key, Hash(TH || FINISH || FINISH_RSP up to it)).
            Algorithms.Hmac(session.ResponseFinishedKey, session.TranscriptHash(), r.Slice(n, h));
            th.AddRange(r.Slice(n, h));
            n += h;
            session.DeriveDataKeys(session.TranscriptHash());
            return n;
        }
        e.Th2Hash = session.TranscriptHash();
        e.After = AfterSeal.SwitchToDataKeys;
        return n;
    }

    /// <summary>Context bytes PSK_EXCHANGE_RSP carries (TsmLab definition; DSP0274 leaves the length to the responder).</summary>
    private const int PskContextSize = 32;
    private const int MaxPskHint = 16;

    /// <summary>
    /// PSK_EXCHANGE → PSK_EXCHANGE_RSP: the session's handshake secret is HKDF-Extract(Salt_0, PSK);
    /// TH1 = Hash(VCA || PSK_EXCHANGE || PSK_EXCHANGE_RSP without ResponderVerifyData) (no certificate).
    /// </summary>
    internal int PskExchange(RequestContext c)
    {
        var q = c.Request;
        if (Settings.Psk is not { } psk)
            return Error(c.Response, SpdmErrorCode.UnsupportedRequest, SpdmCode.PskExchange);
        if (Algorithms.Aead == 0) return Error(c.Response, SpdmErrorCode.UnexpectedRequest);
        int hintLen = U16(q, 6), ctxLen = U16(q, 8), opaqueLen = U16(q, 10);
        int size = 12 + hintLen + ctxLen + opaqueLen;
        if (q.Length < size || hintLen > MaxPskHint || !SummaryHashTypeValid(q[2]) || opaqueLen > 1024
            || !q.Slice(12, hintLen).SequenceEqual(Settings.PskHint))
            return Error(c.Response, SpdmErrorCode.InvalidRequest);
        if (sessions.Count >= Settings.MaxSessions)
            return Error(c.Response, SpdmErrorCode.SessionLimitExceeded);
        var opaque = q.Slice(12 + hintLen + ctxLen, opaqueLen);
        ushort securedVersion = otherParams == SpdmAlgorithmBits.OpaqueDataFormat1
            ? SpdmOpaqueData.SelectVersion(opaque, [.. Settings.SecuredVersions])
            : SpdmOpaqueData.SecuredVersion11;
        if (securedVersion == 0) return Error(c.Response, SpdmErrorCode.InvalidRequest);

        int h = Algorithms.HashSize;
        ushort reqSessionId = U16(q, 4);
        ushort rspSessionId = NextRspSessionId(reqSessionId);
        uint sessionId = reqSessionId | ((uint)rspSessionId << 16);
        var session = new SpdmSession(sessionId, Algorithms, Version, securedVersion) { UsesPsk = true };
        var r = c.Response;
        bool heartbeat = (Settings.Capabilities & peerCapabilities & SpdmCapabilities.Hbeat) != 0;
        Header(r, SpdmCode.PskExchangeRsp, heartbeat ? Settings.HeartbeatPeriod : (byte)0, 0);
        BinaryPrimitives.WriteUInt16LittleEndian(r[4..], rspSessionId);
        BinaryPrimitives.WriteUInt16LittleEndian(r[6..], 0);
        BinaryPrimitives.WriteUInt16LittleEndian(r[8..], PskContextSize);
        int at = 12;
        if (q[2] != 0) { MeasurementSummaryHash(q[2]).CopyTo(r[at..]); at += h; }
        Fill(Settings.Entropy, r.Slice(at, PskContextSize));
        at += PskContextSize;
        int opaqueOut = otherParams == SpdmAlgorithmBits.OpaqueDataFormat1 ? SpdmOpaqueData.WriteVersionSelection(r[at..], securedVersion) : 0;
        BinaryPrimitives.WriteUInt16LittleEndian(r[10..], (ushort)opaqueOut);
        at += opaqueOut;
        var th = session.Transcript;
        th.AddRange(vca);
        th.AddRange(q[..size]);
        th.AddRange(r[..at]);
        var th1 = session.TranscriptHash();
        session.DeriveHandshakeKeys(psk, th1);
        Algorithms.Hmac(session.ResponseFinishedKey, th1, r.Slice(at, h));
        th.AddRange(r.Slice(at, h));
        at += h;
        sessions[sessionId] = new SessionEntry(session);
        newSession = sessionId;
        return at;
    }

    /// <summary>PSK_FINISH → PSK_FINISH_RSP: RequesterVerifyData checked as for FINISH; the session is established after the answer.</summary>
    internal int PskFinish(RequestContext c)
    {
        var e = c.Session!;
        if (!e.Session.UsesPsk || e.Session.State != SpdmSessionState.Handshaking)
            return Error(c.Response, SpdmErrorCode.UnexpectedRequest);
        return FinishCommon(c, SpdmCode.PskFinishRsp, inClear: false);
    }

    internal int Heartbeat(RequestContext c)
    {
        if (c.Session!.Session.State != SpdmSessionState.Established)
            return Error(c.Response, SpdmErrorCode.UnexpectedRequest);
        Header(c.Response, SpdmCode.HeartbeatAck);
        return 4;
    }

    internal int KeyUpdate(RequestContext c)
    {
        var session = c.Session!.Session;
        if (session.State != SpdmSessionState.Established)
            return Error(c.Response, SpdmErrorCode.UnexpectedRequest);
        var q = c.Request;
        switch (q[2])
        {
            case 1 when session.PendingKeyUpdate == 0:
                session.UpdateKey(request: true);
                session.PendingKeyUpdate = 1;
                break;
            case 2 when session.PendingKeyUpdate == 0:
                session.UpdateKey(request: true);
                session.UpdateKey(request: false);
                session.PendingKeyUpdate = 2;
                break;
            case 3 when session.PendingKeyUpdate != 0:
                session.PendingKeyUpdate = 0;
                break;
            default:
                return Error(c.Response, SpdmErrorCode.InvalidRequest);
        }
        Header(c.Response, SpdmCode.KeyUpdateAck, q[2], q[3]);
        return 4;
    }

    internal int EndSession(RequestContext c)
    {
        Header(c.Response, SpdmCode.EndSessionAck);
        c.Session!.After = AfterSeal.End;
        return 4;
    }

    /// <summary>VENDOR_DEFINED_REQUEST in an established session: the PCI-SIG payload goes to the device.</summary>
    internal int VendorDefined(RequestContext c)
    {
        if (c.Session!.Session.State != SpdmSessionState.Established)
            return Error(c.Response, SpdmErrorCode.UnexpectedRequest);
        if (device is null || !SpdmVendorDefinedMessage.TryRead(c.Request, out var msg))
            return Error(c.Response, SpdmErrorCode.InvalidRequest);
        int n = device.Respond(msg.Payload, vdmPayload);
        if (n == 0)
            return Error(c.Response, SpdmErrorCode.InvalidRequest);
        return SpdmVendorDefinedMessage.Write(c.Response, Version, SpdmVendorDefinedMessage.ResponseCode, msg.IsLarge, vdmPayload.AsSpan(0, n));
    }
}
