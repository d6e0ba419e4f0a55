using TsmLab.Spdm.Responder;
using TsmLab.Spdm.Session;
using TsmLab.Spdm.Wire;
using TsmLab.Tdisp.Wire;
using static TsmLab.Tests.Spdm.SpdmTestKit;

namespace TsmLab.Tests.Spdm;

/// <summary>HANDSHAKE_IN_THE_CLEAR_CAP on both ends: FINISH and FINISH_RSP outside the session [SP1,SP5].</summary>
public sealed class SpdmHandshakeInTheClearTests
{
    private static SpdmPair ClearPair(byte version) => Pair(version: version,
        responderSettings: new SpdmResponderSettings { Capabilities = new SpdmResponderSettings().Capabilities | SpdmCapabilities.HandshakeInTheClear },
        requester: s => s with { Capabilities = s.Capabilities | SpdmCapabilities.HandshakeInTheClear });

    [Theory]
    [InlineData(SpdmVersion.V12)]
    [InlineData(SpdmVersion.V13)]
    [InlineData(SpdmVersion.V14)]
    public async Task FinishInTheClear_EstablishesTheSession(byte version)
    {
        using var p = ClearPair(version);
        var session = Establish(p);
        // KEY_EXCHANGE and FINISH went as type 1 objects; the session then works under its data keys.
        Assert.DoesNotContain(p.Wire.Log, x => x.Request[2] == (byte)DoeObjectType.SecuredSpdm);
        Assert.True((await p.Requester.HeartbeatAsync(session)).Ok);
        Assert.True((await p.Requester.KeyUpdateAsync(session, 2)).Ok);
        Assert.True((await p.Requester.EndSessionAsync(session)).Ok);
    }

    [Fact]
    public async Task FinishInTheClear_WithAWrongVerifyData_IsDecryptErrorAndEndsTheSession()
    {
        using var p = ClearPair(SpdmVersion.V13);
        Assert.True((await p.Requester.InitConnectionAsync()).Ok);
        Assert.True((await p.Requester.GetCertificateAsync()).Ok);
        var (res, s) = await p.Requester.KeyExchangeAsync();
        Assert.True(res.Ok, res.ToString());
        var m = Plain(p.Mailbox, [0x13, 0xE5, 0, 0, .. new byte[48]]).Message;
        Assert.Equal((byte)SpdmErrorCode.DecryptError, m[2]);
        Assert.Empty(p.Responder.Sessions);
    }

    [Fact]
    public async Task FinishInsideTheSession_WhenTheHandshakeIsInTheClear_IsSessionRequired()
    {
        using var p = ClearPair(SpdmVersion.V14);
        Assert.True((await p.Requester.InitConnectionAsync()).Ok);
        Assert.True((await p.Requester.GetCertificateAsync()).Ok);
        var (_, s) = await p.Requester.KeyExchangeAsync();
        var (type, m) = SpdmErrorTests.Secured(p, s!, [0x14, 0xE5, 0, 0, 0, 0, .. new byte[48]]);
        Assert.Equal((byte)SpdmErrorCode.SessionRequired, m[2]);
    }
}
