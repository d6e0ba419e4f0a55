using TsmLab.Spdm.Session;
using TsmLab.Spdm.Wire;
using TsmLab.Tdisp.Wire;
using static TsmLab.Tests.Spdm.SpdmTestKit;

namespace TsmLab.Tests.Spdm;

/// <summary>TsmLab's requester against TsmLab's responder, for every version and algorithm set.</summary>
public sealed class SpdmEndToEndTests
{
    public static TheoryData<byte, SpdmSuite> VersionsAndSuites()
    {
        var d = new TheoryData<byte, SpdmSuite>();
        foreach (var v in new[] { SpdmVersion.V12, SpdmVersion.V13, SpdmVersion.V14 })
            foreach (var s in SpdmSuite.All)
                d.Add(v, s);
        return d;
    }

    [Theory]
    [MemberData(nameof(VersionsAndSuites))]
    public async Task FullConnectionAndSession_VerifiesEverything(byte version, SpdmSuite suite)
    {
        using var p = Pair(suite, version);
        var session = Establish(p);
        var r = p.Requester;
        Assert.Equal(version, r.Version);
        Assert.Equal(suite.Hash, r.Algorithms.BaseHash);
        Assert.Equal(suite.Dhe, r.Algorithms.Dhe);
        Assert.Equal(suite.Aead, r.Algorithms.Aead);
        Assert.Equal(suite.P256Key ? SpdmAlgorithmBits.AsymEcdsaP256 : SpdmAlgorithmBits.AsymEcdsaP384, r.Algorithms.BaseAsym);
        Assert.Equal(SpdmSessionState.Established, session.State);
        Assert.Equal(SpdmSessionState.Established, p.Responder.Sessions[session.SessionId].State);

        // TDISP GET_VERSION inside the session reaches the device.
        var rsp = new byte[512];
        byte[] tdispGetVersion = [(byte)VdmProtocolId.Tdisp, 0x10, 0x81, 0, 0, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        var (res, n) = await r.VendorDefinedAsync(session, tdispGetVersion, rsp);
        Assert.True(res.Ok, res.ToString());
        Assert.Equal((byte)VdmProtocolId.Tdisp, rsp[0]);
        Assert.Equal(0x01, rsp[2]); // TDISP VERSION

        Ok(r.HeartbeatAsync(session));
        Ok(r.KeyUpdateAsync(session, 1));
        Ok(r.HeartbeatAsync(session));
        Ok(r.KeyUpdateAsync(session, 2));
        Ok(r.HeartbeatAsync(session));
        Ok(r.GetMeasurementsAsync(0xFF, signed: true, session: session));
        Ok(r.EndSessionAsync(session));
        Assert.Equal(SpdmSessionState.Ended, session.State);
        Assert.Empty(p.Responder.Sessions);
    }

    [Fact]
    public async Task Spdm14VendorDefined_UsesLargeFlag0x80InsideTheSession()
    {
        using var p = Pair(version: SpdmVersion.V14);
        var session = Establish(p);
        var rsp = new byte[512];
        byte[] tdispGetVersion = [(byte)VdmProtocolId.Tdisp, 0x10, 0x81, 0, 0, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        Assert.True((await p.Requester.VendorDefinedAsync(session, tdispGetVersion, rsp)).Result.Ok);
        // Every object after KEY_EXCHANGE_RSP is type 2 and carries no plaintext TDISP bytes.
        var last = p.Wire.Log[^1];
        Assert.Equal((byte)DoeObjectType.SecuredSpdm, last.Request[2]);
        Assert.Equal((byte)DoeObjectType.SecuredSpdm, last.Response[2]);
        Assert.Equal(-1, last.Request.AsSpan().IndexOf(tdispGetVersion.AsSpan(1, 4)));
    }

    [Fact]
    public void RelayedRequester_RunsStepByStepAsTheHostRelaysEachObject()
    {
        using var p = Pair();
        var relay = new TsmLab.Spdm.Requester.RelayChannel();
        using var requester = new TsmLab.Spdm.Requester.SpdmRequester(relay, p.Requester.Settings);
        int relayed = 0;
        var rsp = new byte[p.Mailbox.MaxResponseSize];

        TsmLab.Spdm.Requester.SpdmRequesterResult Pump(ValueTask<TsmLab.Spdm.Requester.SpdmRequesterResult> op)
        {
            // The host's loop: take the pending object, give it to the device, hand the answer back.
            while (!op.IsCompleted)
            {
                Assert.False(relay.Pending.IsEmpty);
                int n = p.Mailbox.Exchange(relay.Pending.Span, rsp);
                relayed++;
                relay.Deliver(rsp.AsSpan(0, n));
            }
            return op.Result;
        }

        Assert.True(Pump(requester.InitConnectionAsync()).Ok);
        Assert.True(Pump(requester.GetDigestsAsync()).Ok);
        Assert.True(Pump(requester.GetCertificateAsync()).Ok);
        Assert.True(Pump(requester.GetMeasurementsAsync()).Ok);
        Assert.Equal(6, relayed); // 3 VCA + digests + certificate (one portion: the chain is under 1024 bytes) + measurements
        Assert.True(relay.Pending.IsEmpty);
    }
}
