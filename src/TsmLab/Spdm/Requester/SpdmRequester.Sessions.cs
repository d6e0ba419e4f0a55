using System.Buffers.Binary;
using System.Security.Cryptography;
using TsmLab.Spdm.Session;
using TsmLab.Spdm.Wire;
using TsmLab.Tdisp.Wire;

namespace TsmLab.Spdm.Requester;

/// <summary>KEY_EXCHANGE, FINISH and the in-session requests [SP1,SP2].</summary>
public sealed partial class SpdmRequester
{
    private readonly Dictionary<SpdmSession, List<byte>> sessionTranscripts = [];

    private List<byte> SessionMessageM(SpdmSession s) => sessionTranscripts.TryGetValue(s, out var m) ? m : sessionTranscripts[s] = [];

    private void EndLocal(SpdmSession s)
    {
        sessionTranscripts.Remove(s);
        s.End();
    }

    /// <summary>KEY_EXCHANGE: verifies the responder's signature and ResponderVerifyData; the session is handshaking on success.</summary>
    public async ValueTask<(SpdmRequesterResult Result, SpdmSession? Session)> KeyExchangeAsync(byte summaryHashType = 0)
    {
        if (ResponderKey is null) return (SpdmRequesterResult.Fail("no verified certificate chain"), null);
        int d = Algorithms.DheSize, h = Algorithms.HashSize, s = Algorithms.SignatureSize;
        if (d == 0) return (SpdmRequesterResult.Fail("no DHE group was negotiated"), null);
        using var ours = ECDiffieHellman.Create(Algorithms.DheCurve);
        ushort reqSessionId = nextReqSessionId--;
        Header(SpdmCode.KeyExchange, summaryHashType, 0);
        BinaryPrimitives.WriteUInt16LittleEndian(message.AsSpan(4), reqSessionId);
        message[6] = 0;
        message[7] = 0;
        Fill(message.AsSpan(8, 32));
        var q = ours.ExportParameters(false).Q;
        q.X!.CopyTo(message, 40);
        q.Y!.CopyTo(message, 40 + d / 2);
        int opaque = SpdmOpaqueData.WriteSupportedVersions(message.AsSpan(40 + d + 2), [.. Settings.SecuredVersions]);
        BinaryPrimitives.WriteUInt16LittleEndian(message.AsSpan(40 + d), (ushort)opaque);
        int size = 40 + d + 2 + opaque;
        int n = await ExchangePlainAsync(size).ConfigureAwait(false);
        bool inClear = (Settings.Capabilities & ResponderCapabilities & SpdmCapabilities.HandshakeInTheClear) != 0;
        int verify = inClear ? 0 : h; // ResponderVerifyData moves to FINISH_RSP when the handshake is in the clear
        if (Expect(n, SpdmCode.KeyExchangeRsp, 40 + d) is { } f) return (f, null);
        if (response[6] != 0) return (SpdmRequesterResult.Fail("the responder asks for mutual authentication, which TsmLab's requester does not offer"), null);
        int at = 40 + d + (summaryHashType == 0 ? 0 : h);
        if (n < at + 2) return (SpdmRequesterResult.Fail("KEY_EXCHANGE_RSP is truncated"), null);
        int opaqueLen = BinaryPrimitives.ReadUInt16LittleEndian(response.AsSpan(at));
        if (n < at + 2 + opaqueLen + s + verify) return (SpdmRequesterResult.Fail("KEY_EXCHANGE_RSP is truncated"), null);
        ushort secured = SpdmOpaqueData.ReadSelection(response.AsSpan(at + 2, opaqueLen));
        if (opaqueLen == 0) secured = SpdmOpaqueData.SecuredVersion11;
        if (!Settings.SecuredVersions.Contains(secured)) return (SpdmRequesterResult.Fail("KEY_EXCHANGE_RSP selects a secured-message version that was not offered"), null);
        at += 2 + opaqueLen;

        byte[] secret;
        try
        {
            using var peer = ECDiffieHellman.Create(new ECParameters
            {
                Curve = Algorithms.DheCurve,
                Q = new ECPoint { X = response.AsSpan(40, d / 2).ToArray(), Y = response.AsSpan(40 + d / 2, d / 2).ToArray() },
            });
            secret = ours.DeriveRawSecretAgreement(peer.PublicKey);
        }
        catch (CryptographicException)
        {
            return (SpdmRequesterResult.Fail("the responder's ECDHE public key is not on the curve"), null);
        }
        uint sessionId = reqSessionId | ((uint)BinaryPrimitives.ReadUInt16LittleEndian(response.AsSpan(4)) << 16);
        var session = new SpdmSession(sessionId, Algorithms, Version, secured);
        var th = session.Transcript;
        th.AddRange(vca);
        th.AddRange(Algorithms.Hash(certChain));
        th.AddRange(message.AsSpan(0, size));
        th.AddRange(response.AsSpan(0, at));
        if (!SpdmSignature.Verify(ResponderKey, Algorithms, Version, SpdmSignature.KeyExchangeRspContext, th.ToArray(), response.AsSpan(at, s)))
        {
            session.End();
            return (SpdmRequesterResult.Fail("the KEY_EXCHANGE_RSP signature does not verify"), null);
        }
        th.AddRange(response.AsSpan(at, s));
        var th1 = session.TranscriptHash();
        session.DeriveHandshakeKeys(secret, th1);
        CryptographicOperations.ZeroMemory(secret);
        if (!inClear)
        {
            Span<byte> expected = stackalloc byte[64];
            Algorithms.Hmac(session.ResponseFinishedKey, th1, expected);
            if (!CryptographicOperations.FixedTimeEquals(expected[..h], response.AsSpan(at + s, h)))
            {
                session.End();
                return (SpdmRequesterResult.Fail("KEY_EXCHANGE_RSP's ResponderVerifyData does not verify"), null);
            }
            th.AddRange(response.AsSpan(at + s, h));
        }
        sessionTranscripts[session] = [];
        AfterRequest(SpdmCode.KeyExchange);
        return (SpdmRequesterResult.Success, session);
    }

    /// <summary>
    /// PSK_EXCHANGE with the pre-shared key <paramref name="psk"/> named by <paramref name="hint"/>: verifies
    /// ResponderVerifyData (the responder proves it knows the PSK); the session is handshaking on success.
    /// </summary>
    public async ValueTask<(SpdmRequesterResult Result, SpdmSession? Session)> PskExchangeAsync(byte[] psk, byte[] hint, byte summaryHashType = 0)
    {
        if ((ResponderCapabilities & SpdmCapabilities.PskWithContext) == 0)
            return (SpdmRequesterResult.Fail("the responder has no PSK_CAP with context"), null);
        int h = Algorithms.HashSize;
        ushort reqSessionId = nextReqSessionId--;
        const int contextSize = 32;
        Header(SpdmCode.PskExchange, summaryHashType, 0);
        BinaryPrimitives.WriteUInt16LittleEndian(message.AsSpan(4), reqSessionId);
        BinaryPrimitives.WriteUInt16LittleEndian(message.AsSpan(6), (ushort)hint.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(message.AsSpan(8), contextSize);
        hint.CopyTo(message, 12);
        Fill(message.AsSpan(12 + hint.Length, contextSize));
        int opaque = SpdmOpaqueData.WriteSupportedVersions(message.AsSpan(12 + hint.Length + contextSize), [.. Settings.SecuredVersions]);
        BinaryPrimitives.WriteUInt16LittleEndian(message.AsSpan(10), (ushort)opaque);
        int size = 12 + hint.Length + contextSize + opaque;
        int n = await ExchangePlainAsync(size).ConfigureAwait(false);
        if (Expect(n, SpdmCode.PskExchangeRsp, 12) is { } f) return (f, null);
        int rspContext = BinaryPrimitives.ReadUInt16LittleEndian(response.AsSpan(8));
        int opaqueLen = BinaryPrimitives.ReadUInt16LittleEndian(response.AsSpan(10));
        int at = 12 + (summaryHashType == 0 ? 0 : h) + rspContext;
        if (n < at + opaqueLen + h) return (SpdmRequesterResult.Fail("PSK_EXCHANGE_RSP is truncated"), null);
        ushort secured = opaqueLen == 0 ? SpdmOpaqueData.SecuredVersion11 : SpdmOpaqueData.ReadSelection(response.AsSpan(at, opaqueLen));
        if (!Settings.SecuredVersions.Contains(secured)) return (SpdmRequesterResult.Fail("PSK_EXCHANGE_RSP selects a secured-message version that was not offered"), null);
        at += opaqueLen;
        uint sessionId = reqSessionId | ((uint)BinaryPrimitives.ReadUInt16LittleEndian(response.AsSpan(4)) << 16);
        var session = new SpdmSession(sessionId, Algorithms, Version, secured) { UsesPsk = true };
        var th = session.Transcript;
        th.AddRange(vca);
        th.AddRange(message.AsSpan(0, size));
        th.AddRange(response.AsSpan(0, at));
        var th1 = session.TranscriptHash();
        session.DeriveHandshakeKeys(psk, th1);
        Span<byte> expected = stackalloc byte[64];
        Algorithms.Hmac(session.ResponseFinishedKey, th1, expected);
        if (!CryptographicOperations.FixedTimeEquals(expected[..h], response.AsSpan(at, h)))
        {
            session.End();
            return (SpdmRequesterResult.Fail("PSK_EXCHANGE_RSP's ResponderVerifyData does not verify (a different PSK?)"), null);
        }
        th.AddRange(response.AsSpan(at, h));
        sessionTranscripts[session] = [];
        AfterRequest(SpdmCode.PskExchange);
        return (SpdmRequesterResult.Success, session);
    }

    /// <summary>FINISH (or PSK_FINISH for a PSK session) under the handshake keys; the session is established on success.</summary>
    public async ValueTask<SpdmRequesterResult> FinishAsync(SpdmSession session)
    {
        if (session.State != SpdmSessionState.Handshaking) return SpdmRequesterResult.Fail("the session is not handshaking");
        int h = Algorithms.HashSize;
        byte code = session.UsesPsk ? SpdmCode.PskFinish : SpdmCode.Finish;
        Header(code);
        int at = 4;
        if (Version >= SpdmVersion.V14) { BinaryPrimitives.WriteUInt16LittleEndian(message.AsSpan(4), 0); at += 2; }
        var th = session.Transcript;
        th.AddRange(message.AsSpan(0, at));
        Algorithms.Hmac(session.RequestFinishedKey, session.TranscriptHash(), message.AsSpan(at, h));
        th.AddRange(message.AsSpan(at, h));
        bool inClear = !session.UsesPsk && (Settings.Capabilities & ResponderCapabilities & SpdmCapabilities.HandshakeInTheClear) != 0;
        int n = inClear ? await ExchangePlainAsync(at + h).ConfigureAwait(false) : await ExchangeSecuredAsync(session, at + h).ConfigureAwait(false);
        if (Expect(n, session.UsesPsk ? SpdmCode.PskFinishRsp : SpdmCode.FinishRsp, Version >= SpdmVersion.V14 ? 6 : 4) is { } f)
        {
            if (session.State != SpdmSessionState.Ended) EndLocal(session);
            return f;
        }
        int len = Version >= SpdmVersion.V14 ? 6 + BinaryPrimitives.ReadUInt16LittleEndian(response.AsSpan(4)) : 4;
        if (n < len + (inClear ? h : 0)) { EndLocal(session); return SpdmRequesterResult.Fail("FINISH_RSP is truncated"); }
        th.AddRange(response.AsSpan(0, len));
        if (inClear)
        {
            Span<byte> expected = stackalloc byte[64];
            Algorithms.Hmac(session.ResponseFinishedKey, session.TranscriptHash(), expected);
            if (!CryptographicOperations.FixedTimeEquals(expected[..h], response.AsSpan(len, h)))
            {
                EndLocal(session);
                return SpdmRequesterResult.Fail("FINISH_RSP's ResponderVerifyData does not verify");
            }
            th.AddRange(response.AsSpan(len, h));
        }
        session.DeriveDataKeys(session.TranscriptHash());
        AfterRequest(code);
        return SpdmRequesterResult.Success;
    }

    /// <summary>HEARTBEAT in the session.</summary>
    public async ValueTask<SpdmRequesterResult> HeartbeatAsync(SpdmSession session)
    {
        Header(SpdmCode.Heartbeat);
        int n = await ExchangeSecuredAsync(session, 4).ConfigureAwait(false);
        if (Expect(n, SpdmCode.HeartbeatAck, 4) is { } f) return f;
        AfterRequest(SpdmCode.Heartbeat);
        return SpdmRequesterResult.Success;
    }

    /// <summary>KEY_UPDATE <paramref name="operation"/> (1 UpdateKey, 2 UpdateAllKeys, 3 VerifyNewKey), then VerifyNewKey for 1 and 2.</summary>
    public async ValueTask<SpdmRequesterResult> KeyUpdateAsync(SpdmSession session, byte operation)
    {
        byte tag = (byte)(RandomNumberGenerator.GetInt32(256));
        Header(SpdmCode.KeyUpdate, operation, tag);
        int n = await ExchangeSecuredAsync(session, 4, afterSeal: () =>
        {
            // The request went out under the old key; the responder moves its receive key now, and for
            // UpdateAllKeys already answers under its new response key.
            if (operation is 1 or 2) session.UpdateKey(request: true);
            if (operation == 2) session.UpdateKey(request: false);
        }).ConfigureAwait(false);
        if (Expect(n, SpdmCode.KeyUpdateAck, 4) is { } f) return f;
        if (response[2] != operation || response[3] != tag) return SpdmRequesterResult.Fail("KEY_UPDATE_ACK does not echo the operation and tag");
        AfterRequest(SpdmCode.KeyUpdate);
        if (operation == 3) return SpdmRequesterResult.Success;
        return await KeyUpdateAsync(session, 3).ConfigureAwait(false);
    }

    /// <summary>END_SESSION; the session's keys are wiped on both ends.</summary>
    public async ValueTask<SpdmRequesterResult> EndSessionAsync(SpdmSession session)
    {
        Header(SpdmCode.EndSession);
        int n = await ExchangeSecuredAsync(session, 4).ConfigureAwait(false);
        var r = Expect(n, SpdmCode.EndSessionAck, 4);
        if (session.State != SpdmSessionState.Ended) EndLocal(session);
        AfterRequest(SpdmCode.EndSession);
        return r ?? SpdmRequesterResult.Success;
    }

    /// <summary>
    /// A PCI-SIG VENDOR_DEFINED_REQUEST (protocol id + message, e.g. TDISP or IDE_KM) in the session; the
    /// response payload lands in <paramref name="payloadResponse"/>. Returns its length, or -1 with the result saying why.
    /// </summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<(SpdmRequesterResult Result, int Length)> VendorDefinedAsync(SpdmSession session, ReadOnlyMemory<byte> payload, Memory<byte> payloadResponse)
    {
        bool large = Version >= SpdmVersion.V14;
        // Room for the VENDOR_DEFINED header and, once sealed, the secured-message overhead and the DOE header.
        if (payload.Length > message.Length - 128) return (SpdmRequesterResult.Fail("the VENDOR_DEFINED payload is larger than the requester sends"), -1);
        int size = SpdmVendorDefinedMessage.Write(message, Version, SpdmVendorDefinedMessage.RequestCode, large, payload.Span);
        int n = await ExchangeSecuredAsync(session, size).ConfigureAwait(false);
        if (Expect(n, SpdmCode.VendorDefinedResponse, SpdmVendorDefinedMessage.ClassicHeaderSize) is { } f) return (f, -1);
        if (!SpdmVendorDefinedMessage.TryRead(response.AsSpan(0, n), out var msg) || msg.Payload.Length > payloadResponse.Length)
            return (SpdmRequesterResult.Fail("VENDOR_DEFINED_RESPONSE is malformed"), -1);
        msg.Payload.CopyTo(payloadResponse.Span);
        return (SpdmRequesterResult.Success, msg.Payload.Length);
    }

    /// <summary>Seals message[0..length) in <paramref name="session"/> as a type-2 DOE object; the opened answer lands in response.</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> ExchangeSecuredAsync(SpdmSession session, int length, Action? afterSeal = null)
    {
        int n = await ExchangeSecuredCoreAsync(session, length, afterSeal).ConfigureAwait(false);
        return await ChunksAsync(n, length, session).ConfigureAwait(false);
    }

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> ExchangeSecuredCoreAsync(SpdmSession session, int length, Action? afterSeal)
    {
        if (session.RequestAead is not { } tx) return -1;
        int body = SecuredMessage.Seal(session.SessionId, tx, message.AsSpan(0, length), requestObject.AsSpan(DoeHeader.Size));
        afterSeal?.Invoke();
        return await ExchangeObjectAsync(DoeObjectType.SecuredSpdm, body, session).ConfigureAwait(false);
    }
}
