using System.Text;
using TsmLab.Spdm.Responder;
using TsmLab.Spdm.Session;
using TsmLab.Spdm.Wire;
using TsmLab.Tdisp.Wire;
using static TsmLab.Tests.Spdm.SpdmTestKit;

namespace TsmLab.Tests.Spdm;

/// <summary>PSK_EXCHANGE / PSK_FINISH sessions [SP1,SP5].</summary>
public sealed class SpdmPskTests
{
    private static readonly byte[] Psk = Encoding.ASCII.GetBytes("TsmLab test PSK\0");
    private static readonly byte[] Hint = Encoding.ASCII.GetBytes("TsmLabHint\0");

    private static SpdmResponderSettings WithPsk() => new()
    {
        Capabilities = new SpdmResponderSettings().Capabilities | SpdmCapabilities.PskWithContext,
        Psk = Psk,
        PskHint = Hint,
        Entropy = new TsmLab.Tdisp.Device.DeterministicEntropySource(3),
    };

    private static SpdmPair PskPair(byte version) => Pair(version: version, responderSettings: WithPsk(),
        requester: s => s with { Capabilities = s.Capabilities | SpdmCapabilities.PskNoContext });

    [Fact]
    public async Task PskExchange_FromARequesterWithoutPskCap_IsUnsupportedRequest()
    {
        using var p = Pair(version: SpdmVersion.V13, responderSettings: WithPsk());
        Assert.True((await p.Requester.InitConnectionAsync()).Ok);
        var (res, s) = await p.Requester.PskExchangeAsync(Psk, Hint);
        Assert.Equal(SpdmErrorCode.UnsupportedRequest, res.Error);
        Assert.Null(s);
    }

    [Theory]
    [InlineData(SpdmVersion.V12)] // Salt_0 zero bytes
    [InlineData(SpdmVersion.V13)] // Salt_0 0xFF bytes
    [InlineData(SpdmVersion.V14)] // and OpaqueData in PSK_FINISH / PSK_FINISH_RSP
    public async Task PskSession_IsEstablishedAndCarriesTdisp(byte version)
    {
        using var p = Pair(version: version, responderSettings: WithPsk(), requester: s => s with { Capabilities = s.Capabilities | SpdmCapabilities.PskNoContext });
        var r = p.Requester;
        Assert.True((await r.InitConnectionAsync()).Ok);
        var (res, session) = await r.PskExchangeAsync(Psk, Hint, 0xFF);
        Assert.True(res.Ok, res.ToString());
        Assert.True((await r.FinishAsync(session!)).Ok);
        Assert.Equal(SpdmSessionState.Established, session!.State);
        var rsp = new byte[256];
        var (vr, n) = await r.VendorDefinedAsync(session, new byte[] { 0x01, 0x10, 0x81, 0, 0, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, rsp);
        Assert.True(vr.Ok, vr.ToString());
        Assert.Equal(0x01, rsp[2]);
        Assert.True((await r.KeyUpdateAsync(session, 2)).Ok);
        Assert.True((await r.EndSessionAsync(session)).Ok);
        Assert.Empty(p.Responder.Sessions);
    }

    [Fact]
    public async Task PskExchange_WithAnotherHint_IsInvalidRequest()
    {
        using var p = PskPair(SpdmVersion.V13);
        Assert.True((await p.Requester.InitConnectionAsync()).Ok);
        var (res, s) = await p.Requester.PskExchangeAsync(Psk, Encoding.ASCII.GetBytes("other"));
        Assert.Equal(SpdmErrorCode.InvalidRequest, res.Error);
        Assert.Null(s);
        Assert.Empty(p.Responder.Sessions);
    }

    [Fact]
    public async Task PskExchange_WithAnotherKey_FailsTheRequestersVerifyData()
    {
        using var p = PskPair(SpdmVersion.V13);
        Assert.True((await p.Requester.InitConnectionAsync()).Ok);
        var (res, s) = await p.Requester.PskExchangeAsync(Encoding.ASCII.GetBytes("wrong key"), Hint);
        Assert.False(res.Ok);
        Assert.Contains("ResponderVerifyData", res.Reason, StringComparison.Ordinal);
        Assert.Null(s);
    }

    [Fact]
    public async Task FinishInAPskSession_AndPskFinishInAKeyExchangeSession_AreUnexpectedRequest()
    {
        using var p = PskPair(SpdmVersion.V14);
        var r = p.Requester;
        Assert.True((await r.InitConnectionAsync()).Ok);
        var (_, psk) = await r.PskExchangeAsync(Psk, Hint);
        var (type, m) = SpdmErrorTests.Secured(p, psk!, [0x14, 0xE5, 0, 0, 0, 0, .. new byte[48]]);
        Assert.Equal((byte)SpdmErrorCode.UnexpectedRequest, m[2]);
        Assert.True((await r.GetCertificateAsync()).Ok);
        var (_, ke) = await r.KeyExchangeAsync();
        (type, m) = SpdmErrorTests.Secured(p, ke!, [0x14, 0xE7, 0, 0, 0, 0, .. new byte[48]]);
        Assert.Equal((byte)SpdmErrorCode.UnexpectedRequest, m[2]);
        Assert.Equal(DoeObjectType.SecuredSpdm, type);
    }
}
