using System.Security.Cryptography;
using TsmLab.Spdm.Wire;

namespace TsmLab.Spdm.Session;

/// <summary>Where a session is in its life (DSP0274 "Session" states) [SP1].</summary>
public enum SpdmSessionState
{
    /// <summary>After KEY_EXCHANGE_RSP, before FINISH_RSP: handshake keys protect FINISH.</summary>
    Handshaking,
    /// <summary>After FINISH_RSP: data keys; application messages allowed.</summary>
    Established,
    /// <summary>After END_SESSION_ACK or a decrypt failure: no key is usable.</summary>
    Ended,
}

/// <summary>
/// One SPDM secure session's keys and transcript, the same object on both ends [SP1,SP2].
/// </summary>
/// <remarks>
/// Holds the session id (ReqSessionID in bits 0-15, RspSessionID in 16-31), the negotiated
/// algorithms and version, the handshake secret, both directions' current secrets and AEAD
/// states, and the transcript TH (VCA || Hash(cert chain) || KEY_EXCHANGE || KEY_EXCHANGE_RSP ||
/// FINISH || FINISH_RSP) until the data keys are derived. Key update follows DSP0274 KEY_UPDATE:
/// a direction's next secret is HKDF-Expand(secret, "traffic upd") and its sequence number restarts
/// at 0. Not thread-safe: the owning requester or responder serialises its use.
/// </remarks>
public sealed class SpdmSession : IDisposable
{
    private byte[] handshakeSecret = [];
    private byte[] requestSecret = [];
    private byte[] responseSecret = [];

    public SpdmSession(uint sessionId, SpdmAlgorithmSet algorithms, byte version, ushort securedVersion)
    {
        SessionId = sessionId;
        Algorithms = algorithms;
        Version = version;
        SecuredVersion = securedVersion;
    }

    public uint SessionId { get; }
    public SpdmAlgorithmSet Algorithms { get; }
    public byte Version { get; }
    /// <summary>The DSP0277 version selected in the opaque data (0x1100 / 0x1200).</summary>
    public ushort SecuredVersion { get; }
    public SpdmSessionState State { get; private set; } = SpdmSessionState.Handshaking;
    /// <summary>The transcript for TH1/TH2 (grows until FINISH_RSP, then cleared).</summary>
    public List<byte> Transcript { get; } = [];
    /// <summary>Requester-to-responder AEAD state.</summary>
    public SpdmAead? RequestAead { get; private set; }
    /// <summary>Responder-to-requester AEAD state.</summary>
    public SpdmAead? ResponseAead { get; private set; }
    public byte[] RequestFinishedKey { get; private set; } = [];
    public byte[] ResponseFinishedKey { get; private set; } = [];
    /// <summary>Established by PSK_EXCHANGE (the handshake secret comes from the PSK; PSK_FINISH, not FINISH, completes it).</summary>
    public bool UsesPsk { get; init; }
    /// <summary>The last KEY_UPDATE operation awaiting VerifyNewKey (0 when none).</summary>
    public byte PendingKeyUpdate { get; set; }

    /// <summary>Hash of the transcript so far (TH1 or TH2 depending on when it is taken).</summary>
    public byte[] TranscriptHash() => Algorithms.Hash(Transcript.ToArray());

    /// <summary>Derives the handshake secrets from the DHE secret and TH1; handshake keys take effect.</summary>
    public void DeriveHandshakeKeys(ReadOnlySpan<byte> dheSecret, ReadOnlySpan<byte> th1Hash)
    {
        (handshakeSecret, requestSecret, responseSecret) = SpdmKeySchedule.Handshake(Algorithms, Version, dheSecret, th1Hash, UsesPsk);
        RequestFinishedKey = SpdmKeySchedule.FinishedKey(Algorithms, Version, requestSecret);
        ResponseFinishedKey = SpdmKeySchedule.FinishedKey(Algorithms, Version, responseSecret);
        ReplaceAead(request: true);
        ReplaceAead(request: false);
    }

    /// <summary>Derives the data secrets from TH2; the session becomes established.</summary>
    public void DeriveDataKeys(ReadOnlySpan<byte> th2Hash)
    {
        var (req, rsp) = SpdmKeySchedule.Data(Algorithms, Version, handshakeSecret, th2Hash);
        CryptographicOperations.ZeroMemory(handshakeSecret);
        CryptographicOperations.ZeroMemory(requestSecret);
        CryptographicOperations.ZeroMemory(responseSecret);
        requestSecret = req;
        responseSecret = rsp;
        ReplaceAead(request: true);
        ReplaceAead(request: false);
        Transcript.Clear();
        State = SpdmSessionState.Established;
    }

    /// <summary>KEY_UPDATE: the next secret for one direction; its sequence number restarts at 0.</summary>
    public void UpdateKey(bool request)
    {
        ref byte[] secret = ref request ? ref requestSecret : ref responseSecret;
        var next = SpdmKeySchedule.Update(Algorithms, Version, secret);
        CryptographicOperations.ZeroMemory(secret);
        secret = next;
        ReplaceAead(request);
    }

    /// <summary>Ends the session: keys are wiped, nothing seals or opens any more.</summary>
    public void End()
    {
        State = SpdmSessionState.Ended;
        Dispose();
    }

    private void ReplaceAead(bool request)
    {
        var secret = request ? requestSecret : responseSecret;
        var key = SpdmKeySchedule.Expand(Algorithms, Version, secret, "key", default, Algorithms.AeadKeySize);
        var iv = SpdmKeySchedule.Expand(Algorithms, Version, secret, "iv", default, SpdmAlgorithmSet.AeadIvSize);
        var aead = new SpdmAead(Algorithms.Aead, key, iv);
        if (request) { RequestAead?.Dispose(); RequestAead = aead; }
        else { ResponseAead?.Dispose(); ResponseAead = aead; }
    }

    public void Dispose()
    {
        RequestAead?.Dispose();
        ResponseAead?.Dispose();
        RequestAead = ResponseAead = null;
        CryptographicOperations.ZeroMemory(handshakeSecret);
        CryptographicOperations.ZeroMemory(requestSecret);
        CryptographicOperations.ZeroMemory(responseSecret);
        CryptographicOperations.ZeroMemory(RequestFinishedKey);
        CryptographicOperations.ZeroMemory(ResponseFinishedKey);
    }
}
