using TsmLab.Spdm.Responder;
using TsmLab.Spdm.Session;
using TsmLab.Spdm.Wire;
using TsmLab.Tdisp.Wire;
using static TsmLab.Tests.Spdm.SpdmTestKit;

namespace TsmLab.Tests.Spdm;

/// <summary>Every ERROR row of docs/spdm.md: the responder answers the DSP0274 ERROR and changes nothing [SP1].</summary>
public sealed class SpdmErrorTests
{
    private static void AssertError(byte[] m, SpdmErrorCode code, byte version, byte data = 0)
    {
        Assert.True(m.Length >= 4, "short answer");
        Assert.Equal(SpdmCode.Error, m[1]);
        Assert.Equal((byte)code, m[2]);
        Assert.Equal(version, m[0]);
        Assert.Equal(data, m[3]);
    }

    private static async Task<SpdmPair> Connected(byte version = SpdmVersion.V12, SpdmResponderSettings? settings = null)
    {
        var p = Pair(version: version, responderSettings: settings);
        Assert.True((await p.Requester.InitConnectionAsync()).Ok);
        return p;
    }

    /// <summary>Sends <paramref name="spdm"/> sealed in <paramref name="session"/>; returns the opened answer (or the plain one).</summary>
    internal static (DoeObjectType Type, byte[] Message) Secured(SpdmPair p, SpdmSession session, byte[] spdm)
    {
        var obj = new byte[DoeHeader.ObjectSize(spdm.Length + SecuredMessage.Overhead)];
        int body = SecuredMessage.Seal(session.SessionId, session.RequestAead!, spdm, obj.AsSpan(DoeHeader.Size));
        DoeHeader.Write(obj, DoeObjectType.SecuredSpdm, body);
        var rsp = new byte[p.Mailbox.MaxResponseSize];
        int n = p.Mailbox.Exchange(obj.AsSpan(0, DoeHeader.ObjectSize(body)), rsp);
        Assert.True(DoeHeader.TryRead(rsp.AsSpan(0, n), out var h));
        var b = rsp.AsSpan(DoeHeader.Size, h.LengthBytes - DoeHeader.Size);
        if (h.Type == DoeObjectType.Spdm) return (h.Type, b.ToArray());
        var app = new byte[b.Length];
        int m = SecuredMessage.Open(session.ResponseAead!, b, app);
        Assert.True(m > 0);
        return (h.Type, app[..m]);
    }

    [Fact]
    public void GetVersion_WithVersionOtherThan10_IsVersionMismatchAt10()
    {
        using var p = Pair();
        AssertError(Plain(p.Mailbox, Hex("12840000")).Message, SpdmErrorCode.VersionMismatch, 0x10);
    }

    [Fact]
    public void AnyRequest_BeforeGetVersion_IsUnexpectedRequest()
    {
        using var p = Pair();
        AssertError(Plain(p.Mailbox, Hex("12e10000" + "00000000" + "c6020000" + "00100000" + "00100000")).Message, SpdmErrorCode.UnexpectedRequest, 0x10);
        AssertError(Plain(p.Mailbox, Hex("12810000")).Message, SpdmErrorCode.UnexpectedRequest, 0x10);
    }

    [Fact]
    public void GetCapabilities_WithAVersionNotListed_IsVersionMismatch()
    {
        using var p = Pair();
        Plain(p.Mailbox, Hex("10840000"));
        AssertError(Plain(p.Mailbox, Hex("11e10000" + "00000000" + "c6020000" + "00100000" + "00100000")).Message, SpdmErrorCode.VersionMismatch, 0x10);
    }

    [Theory]
    [InlineData("00000000" + "c6020000" + "29000000" + "29000000")] // DataTransferSize 41 < 42
    [InlineData("00000000" + "c6020000" + "00100000" + "00080000")] // MaxSPDMmsgSize < DataTransferSize
    [InlineData("00000000" + "c0000000" + "00100000" + "00100000")] // ENCRYPT|MAC without KEY_EX or PSK
    [InlineData("00000000" + "06020000" + "00100000" + "00100000")] // KEY_EX without ENCRYPT or MAC
    [InlineData("00200000" + "06000000" + "00100000" + "00100000")] // CTExponent 32
    public void GetCapabilities_WithInconsistentFields_IsInvalidRequest(string body)
    {
        using var p = Pair();
        Plain(p.Mailbox, Hex("10840000"));
        AssertError(Plain(p.Mailbox, Hex("12e10000" + body)).Message, SpdmErrorCode.InvalidRequest, 0x12);
        Assert.Equal(SpdmConnectionState.AfterVersion, p.Responder.ConnectionState);
    }

    [Fact]
    public async Task VcaRequests_OutOfOrder_AreUnexpectedRequest()
    {
        using var p = await Connected();
        AssertError(Plain(p.Mailbox, Hex("12e10000" + "00000000" + "c6020000" + "00100000" + "00100000")).Message, SpdmErrorCode.UnexpectedRequest, 0x12);
        AssertError(Plain(p.Mailbox, Hex("12e30000" + "2000" + "0102" + new string('0', 48))).Message, SpdmErrorCode.UnexpectedRequest, 0x12);
    }

    [Theory]
    [InlineData("0220" + "0000" + "0320" + "0200" + "0520" + "0100")] // a structure offering nothing
    [InlineData("0320" + "0200" + "0220" + "1000" + "0520" + "0100")] // types not ascending
    [InlineData("0220" + "0800" + "0320" + "0200" + "0620" + "0100")] // type 6 before SPDM 1.4
    [InlineData("0230" + "1000" + "0320" + "0200" + "0520" + "0100")] // FixedAlgCount 3
    public void NegotiateAlgorithms_WithMalformedStructures_IsInvalidRequest(string structs)
    {
        using var p = Pair();
        Plain(p.Mailbox, Hex("10840000"));
        Plain(p.Mailbox, Hex("12e10000" + "00000000" + "c6020000" + "00100000" + "00100000"));
        AssertError(Plain(p.Mailbox, Hex("12e30300" + "2c00" + "01" + "02" + "80000000" + "02000000" + new string('0', 32) + structs)).Message,
            SpdmErrorCode.InvalidRequest, 0x12);
        Assert.Equal(SpdmConnectionState.AfterCapabilities, p.Responder.ConnectionState);
    }

    [Fact]
    public void NegotiateAlgorithms_WithNoCommonHash_IsInvalidRequest()
    {
        using var p = Pair();
        Plain(p.Mailbox, Hex("10840000"));
        Plain(p.Mailbox, Hex("12e10000" + "00000000" + "c6020000" + "00100000" + "00100000"));
        AssertError(Plain(p.Mailbox, Hex("12e30300" + "2c00" + "01" + "02" + "80000000" + "04000000" + new string('0', 32)
            + "0220" + "1000" + "0320" + "0200" + "0520" + "0100")).Message, SpdmErrorCode.InvalidRequest, 0x12);
    }

    [Fact]
    public void GetDigests_BeforeAlgorithms_IsUnexpectedRequest()
    {
        using var p = Pair();
        Plain(p.Mailbox, Hex("10840000"));
        Plain(p.Mailbox, Hex("12e10000" + "00000000" + "c6020000" + "00100000" + "00100000"));
        AssertError(Plain(p.Mailbox, Hex("12810000")).Message, SpdmErrorCode.UnexpectedRequest, 0x12);
    }

    [Fact]
    public async Task Request_WithAnotherVersion_IsVersionMismatch()
    {
        using var p = await Connected(SpdmVersion.V12);
        AssertError(Plain(p.Mailbox, Hex("13810000")).Message, SpdmErrorCode.VersionMismatch, 0x12);
    }

    [Theory]
    [InlineData(0x86)] // CHUNK_GET
    [InlineData(0x87)] // GET_ENDPOINT_INFO
    [InlineData(0xE6)] // PSK_EXCHANGE
    [InlineData(0xFF)] // RESPOND_IF_READY
    [InlineData(0x01)] // a response code
    public async Task UnknownOrUnmodelledRequest_IsUnsupportedRequestNamingTheCode(byte code)
    {
        using var p = await Connected();
        AssertError(Plain(p.Mailbox, [0x12, code, 0, 0]).Message, SpdmErrorCode.UnsupportedRequest, 0x12, code);
    }

    [Fact]
    public async Task RequestWithoutTheCapability_IsUnsupportedRequest()
    {
        var settings = new SpdmResponderSettings { Capabilities = SpdmCapabilities.Cert | SpdmCapabilities.Chal | SpdmCapabilities.Encrypt | SpdmCapabilities.Mac | SpdmCapabilities.KeyEx };
        using var p = await Connected(settings: settings);
        AssertError(Plain(p.Mailbox, Hex("12e00000")).Message, SpdmErrorCode.UnsupportedRequest, 0x12, 0xE0);
    }

    [Theory]
    [InlineData(0xE4)] // KEY_EXCHANGE: the requester has no KEY_EX_CAP
    [InlineData(0xE8)] // HEARTBEAT: no HBEAT_CAP
    public async Task RequestTheRequesterHasNoCapabilityFor_IsUnsupportedRequest(byte code)
    {
        using var p = Pair(version: SpdmVersion.V12, requester: s => s with
        {
            Capabilities = SpdmCapabilities.Cert | SpdmCapabilities.Chal | SpdmCapabilities.Encrypt | SpdmCapabilities.Mac | SpdmCapabilities.PskNoContext,
        });
        Assert.True((await p.Requester.InitConnectionAsync()).Ok);
        AssertError(Plain(p.Mailbox, [0x12, code, 0, 0, .. new byte[140]]).Message, SpdmErrorCode.UnsupportedRequest, 0x12, code);
    }

    [Fact]
    public async Task ShortMessage_IsInvalidRequest()
    {
        using var p = await Connected();
        var rsp = new byte[64];
        int n = p.Responder.RespondPlain([0x12, 0x81], rsp); // below the 4-byte header (DOE padding hides this on the wire)
        AssertError(rsp[..n], SpdmErrorCode.InvalidRequest, 0x12);
        n = p.Responder.RespondPlain(Hex("12820000" + "0000"), rsp); // GET_CERTIFICATE needs 8
        AssertError(rsp[..n], SpdmErrorCode.InvalidRequest, 0x12);
        AssertError(Plain(p.Mailbox, Hex("12830000" + "0011")).Message, SpdmErrorCode.InvalidRequest, 0x12); // CHALLENGE needs 36
    }

    [Fact]
    public async Task GetCertificate_OtherSlotOrOffsetBeyondTheChain_IsInvalidRequest()
    {
        using var p = await Connected();
        AssertError(Plain(p.Mailbox, Hex("12820100" + "0000" + "0004")).Message, SpdmErrorCode.InvalidRequest, 0x12);
        AssertError(Plain(p.Mailbox, Hex("12820000" + "ffff" + "0004")).Message, SpdmErrorCode.InvalidRequest, 0x12);
    }

    [Fact]
    public async Task Challenge_WithUnknownSummaryHashType_IsInvalidRequest()
    {
        using var p = await Connected();
        AssertError(Plain(p.Mailbox, [0x12, 0x83, 0, 2, .. new byte[32]]).Message, SpdmErrorCode.InvalidRequest, 0x12);
        AssertError(Plain(p.Mailbox, [0x12, 0x83, 1, 0, .. new byte[32]]).Message, SpdmErrorCode.InvalidRequest, 0x12); // slot 1
    }

    [Fact]
    public async Task GetMeasurements_ForAnIndexTheDeviceLacks_IsInvalidRequest()
    {
        using var p = await Connected();
        AssertError(Plain(p.Mailbox, Hex("12e000ee")).Message, SpdmErrorCode.InvalidRequest, 0x12);
    }

    [Fact]
    public async Task GetMeasurements_LargerThanTheRequesterTakes_IsResponseTooLarge()
    {
        using var p = Pair(version: SpdmVersion.V12, requester: s => s with { DataTransferSize = 64 });
        Assert.True((await p.Requester.InitConnectionAsync()).Ok);
        var m = Plain(p.Mailbox, [0x12, 0xE0, 0x01, 0xFF, .. new byte[33]]).Message;
        AssertError(m, SpdmErrorCode.ResponseTooLarge, 0x12);
        Assert.True(BitConverter.ToUInt32(m, 4) > 64);
    }

    [Theory]
    [InlineData(0xE8)] // HEARTBEAT
    [InlineData(0xE9)] // KEY_UPDATE
    [InlineData(0xEC)] // END_SESSION
    public async Task SessionOnlyRequest_OutsideASession_IsSessionRequired(byte code)
    {
        using var p = await Connected();
        AssertError(Plain(p.Mailbox, [0x12, code, 1, 0]).Message, SpdmErrorCode.SessionRequired, 0x12);
    }

    [Fact]
    public async Task VendorDefined_OutsideASession_IsSessionRequired()
    {
        using var p = await Connected();
        var vdm = new byte[64];
        int n = SpdmVendorDefinedMessage.Write(vdm, 0x12, 0xFE, false, [(byte)VdmProtocolId.Tdisp, 0x10, 0x81, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        AssertError(Plain(p.Mailbox, vdm[..n]).Message, SpdmErrorCode.SessionRequired, 0x12);
    }

    [Fact]
    public async Task Finish_OutsideASession_IsSessionRequired()
    {
        using var p = await Connected();
        AssertError(Plain(p.Mailbox, [0x12, 0xE5, 0, 0, .. new byte[48]]).Message, SpdmErrorCode.SessionRequired, 0x12);
    }

    [Fact]
    public async Task KeyExchange_WithAPointNotOnTheCurve_IsInvalidRequest()
    {
        using var p = await Connected();
        Assert.True((await p.Requester.GetDigestsAsync()).Ok);
        var ke = new byte[40 + 96 + 2];
        ke[0] = 0x12; ke[1] = 0xE4;
        ke[40] = 1; // X = 1.., Y = 0: not on secp384r1
        AssertError(Plain(p.Mailbox, ke).Message, SpdmErrorCode.InvalidRequest, 0x12);
        Assert.Empty(p.Responder.Sessions);
    }

    [Fact]
    public async Task KeyExchange_BeyondTheSessionLimit_IsSessionLimitExceeded()
    {
        using var p = Pair(responderSettings: new SpdmResponderSettings { MaxSessions = 1 });
        var r = p.Requester;
        Assert.True((await r.InitConnectionAsync()).Ok);
        Assert.True((await r.GetCertificateAsync()).Ok);
        Assert.True((await r.KeyExchangeAsync()).Result.Ok);
        var (res, s) = await r.KeyExchangeAsync();
        Assert.Equal(SpdmErrorCode.SessionLimitExceeded, res.Error);
        Assert.Null(s);
        Assert.Single(p.Responder.Sessions);
    }

    [Fact]
    public async Task Busy_AnswersBusyToEveryRequest()
    {
        using var p = await Connected();
        p.Responder.ResponseState = SpdmResponseState.Busy;
        AssertError(Plain(p.Mailbox, Hex("12810000")).Message, SpdmErrorCode.Busy, 0x12);
        AssertError(Plain(p.Mailbox, Hex("10840000")).Message, SpdmErrorCode.Busy, 0x12);
        p.Responder.ResponseState = SpdmResponseState.Normal;
        Assert.Equal(0x01, Plain(p.Mailbox, Hex("12810000")).Message[1]);
    }

    [Fact]
    public async Task AfterAReset_RequestsAreRequestResynchUntilGetVersion()
    {
        using var p = await Connected();
        var session = await EstablishAsync(p);
        var responderSession = p.Responder.Sessions[session.SessionId];
        p.Responder.Reset();
        Assert.Equal(SpdmSessionState.Ended, responderSession.State);
        Assert.Empty(p.Responder.Sessions);
        AssertError(Plain(p.Mailbox, Hex("12810000")).Message, SpdmErrorCode.RequestResynch, 0x10);
        Assert.Equal(0x04, Plain(p.Mailbox, Hex("10840000")).Message[1]);
        Assert.Equal(SpdmResponseState.Normal, p.Responder.ResponseState);
    }

    [Fact]
    public async Task VcaOrChallenge_InsideASession_IsUnexpectedRequest()
    {
        using var p = Pair();
        var session = await EstablishAsync(p);
        AssertError(Secured(p, session, Hex("10840000")).Message, SpdmErrorCode.UnexpectedRequest, 0x14);
        AssertError(Secured(p, session, [0x14, 0x83, 0, 0, .. new byte[40]]).Message, SpdmErrorCode.UnexpectedRequest, 0x14);
        AssertError(Secured(p, session, [0x14, 0xE5, 0, 0, .. new byte[50]]).Message, SpdmErrorCode.UnexpectedRequest, 0x14); // FINISH again
        Assert.Equal(0x68, Secured(p, session, [0x14, 0xE8, 0, 0]).Message[1]); // the session still works
    }

    [Theory]
    [InlineData(new byte[] { 0x14, 0xE8, 0, 0 })] // HEARTBEAT
    [InlineData(new byte[] { 0x14, 0xEC, 0, 0 })] // END_SESSION
    [InlineData(new byte[] { 0x14, 0xE0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 })] // GET_MEASUREMENTS
    [InlineData(new byte[] { 0x14, 0xE9, 1, 0 })] // KEY_UPDATE
    public async Task AnyRequestButFinish_WhileHandshaking_IsUnexpectedRequest(byte[] request)
    {
        using var p = Pair();
        var r = p.Requester;
        Assert.True((await r.InitConnectionAsync()).Ok);
        Assert.True((await r.GetCertificateAsync()).Ok);
        var (_, session) = await r.KeyExchangeAsync();
        AssertError(Secured(p, session!, request).Message, SpdmErrorCode.UnexpectedRequest, 0x14);
        Assert.True((await r.FinishAsync(session!)).Ok); // the handshake still completes
    }

    [Fact]
    public async Task Finish_WithAWrongVerifyData_IsDecryptErrorAndEndsTheSession()
    {
        using var p = Pair();
        var r = p.Requester;
        Assert.True((await r.InitConnectionAsync()).Ok);
        Assert.True((await r.GetCertificateAsync()).Ok);
        var (_, session) = await r.KeyExchangeAsync();
        AssertError(Secured(p, session!, [0x14, 0xE5, 0, 0, 0, 0, .. new byte[48]]).Message, SpdmErrorCode.DecryptError, 0x14);
        Assert.Empty(p.Responder.Sessions);
    }

    [Fact]
    public async Task KeyUpdate_VerifyWithoutUpdateOrUnknownOperation_IsInvalidRequest()
    {
        using var p = Pair();
        var session = await EstablishAsync(p);
        AssertError(Secured(p, session, [0x14, 0xE9, 3, 7]).Message, SpdmErrorCode.InvalidRequest, 0x14);
        AssertError(Secured(p, session, [0x14, 0xE9, 4, 7]).Message, SpdmErrorCode.InvalidRequest, 0x14);
        Assert.Equal(0x68, Secured(p, session, [0x14, 0xE8, 0, 0]).Message[1]);
    }

    internal static async Task<SpdmSession> EstablishAsync(SpdmPair p)
    {
        var r = p.Requester;
        if (r.Version == 0) Assert.True((await r.InitConnectionAsync()).Ok);
        Assert.True((await r.GetDigestsAsync()).Ok);
        Assert.True((await r.GetCertificateAsync()).Ok);
        var (res, s) = await r.KeyExchangeAsync();
        Assert.True(res.Ok, res.ToString());
        Assert.True((await r.FinishAsync(s!)).Ok);
        return s!;
    }
}
