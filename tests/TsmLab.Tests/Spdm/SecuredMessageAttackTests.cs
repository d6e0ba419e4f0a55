using TsmLab.Spdm.Responder;
using TsmLab.Spdm.Session;
using TsmLab.Spdm.Wire;
using TsmLab.Tdisp.Device;
using TsmLab.Tdisp.Wire;
using static TsmLab.Tests.Spdm.SpdmTestKit;

namespace TsmLab.Tests.Spdm;

/// <summary>What a misbehaving host relay can do to DOE objects, and what each end does about it [SP2,SP3].</summary>
public sealed class SecuredMessageAttackTests
{
    private static byte[] SealedObject(SpdmSession session, byte[] spdm)
    {
        var obj = new byte[DoeHeader.ObjectSize(spdm.Length + SecuredMessage.Overhead)];
        int body = SecuredMessage.Seal(session.SessionId, session.RequestAead!, spdm, obj.AsSpan(DoeHeader.Size));
        DoeHeader.Write(obj, DoeObjectType.SecuredSpdm, body);
        return obj[..DoeHeader.ObjectSize(body)];
    }

    private static (int Length, byte[] Response) Send(SpdmPair p, byte[] obj)
    {
        var rsp = new byte[p.Mailbox.MaxResponseSize];
        int n = p.Mailbox.Exchange(obj, rsp);
        return (n, rsp[..n]);
    }

    private static void AssertPlainDecryptError(byte[] rsp)
    {
        Assert.Equal((byte)DoeObjectType.Spdm, rsp[2]);
        Assert.Equal(SpdmCode.Error, rsp[DoeHeader.Size + 1]);
        Assert.Equal((byte)SpdmErrorCode.DecryptError, rsp[DoeHeader.Size + 2]);
    }

    private static string DeviceState(SpdmPair p) => string.Join(",", p.Device.Interfaces.Select(t => t.State));

    [Fact]
    public async Task TamperedCiphertext_IsDecryptErrorInTheClearAndEndsTheSession()
    {
        using var p = Pair();
        var session = await SpdmErrorTests.EstablishAsync(p);
        string before = DeviceState(p);
        var obj = SealedObject(session, [0x14, 0xE8, 0, 0]);
        obj[DoeHeader.Size + 7] ^= 0x01; // a ciphertext byte
        var (n, rsp) = Send(p, obj);
        AssertPlainDecryptError(rsp);
        Assert.Empty(p.Responder.Sessions);
        Assert.Equal(before, DeviceState(p));
    }

    [Fact]
    public async Task ReplayedMessage_FailsToDecryptAndEndsTheSession()
    {
        using var p = Pair();
        var session = await SpdmErrorTests.EstablishAsync(p);
        var obj = SealedObject(session, [0x14, 0xE8, 0, 0]);
        var (_, first) = Send(p, obj);
        Assert.Equal((byte)DoeObjectType.SecuredSpdm, first[2]);
        var (_, replay) = Send(p, obj);
        AssertPlainDecryptError(replay);
        Assert.Empty(p.Responder.Sessions);
    }

    [Fact]
    public async Task ReorderedMessages_FailToDecryptAndEndTheSession()
    {
        using var p = Pair();
        var session = await SpdmErrorTests.EstablishAsync(p);
        var first = SealedObject(session, [0x14, 0xE8, 0, 0]);
        var second = SealedObject(session, [0x14, 0xE8, 0, 0]);
        var (_, rsp) = Send(p, second);
        AssertPlainDecryptError(rsp);
        Assert.Empty(p.Responder.Sessions);
        // The session is gone: the first now names an unknown session.
        var (_, late) = Send(p, first);
        Assert.Equal((byte)DoeObjectType.Spdm, late[2]);
        Assert.Equal((byte)SpdmErrorCode.InvalidRequest, late[DoeHeader.Size + 2]);
    }

    [Theory]
    [InlineData(-4)] // truncated: the length field claims a DWORD more than delivered
    [InlineData(8)]  // oversized: more than DWORD padding after the object
    public async Task TruncatedOrOversizedDoeObject_GetsNoAnswerAndChangesNothing(int delta)
    {
        using var p = Pair();
        var session = await SpdmErrorTests.EstablishAsync(p);
        var obj = SealedObject(session, [0x14, 0xE8, 0, 0]);
        var bad = delta < 0 ? obj[..(obj.Length + delta)] : [.. obj, .. new byte[delta]];
        Assert.Equal(0, Send(p, bad).Length);
        Assert.Equal(SpdmSessionState.Established, p.Responder.Sessions[session.SessionId].State);
        // The untouched object is still the next one in sequence.
        var (_, rsp) = Send(p, obj);
        Assert.Equal((byte)DoeObjectType.SecuredSpdm, rsp[2]);
    }

    [Fact]
    public async Task SecuredLengthBeyondTheObject_IsDecryptError()
    {
        using var p = Pair();
        var session = await SpdmErrorTests.EstablishAsync(p);
        var obj = SealedObject(session, [0x14, 0xE8, 0, 0]);
        obj[DoeHeader.Size + 4] += 8; // secured Length beyond the body
        AssertPlainDecryptError(Send(p, obj).Response);
        Assert.Empty(p.Responder.Sessions);
    }

    [Fact]
    public async Task UnknownSessionId_IsInvalidRequestInTheClearAndLeavesSessionsAlone()
    {
        using var p = Pair();
        var session = await SpdmErrorTests.EstablishAsync(p);
        var obj = SealedObject(session, [0x14, 0xE8, 0, 0]);
        obj[DoeHeader.Size] ^= 0x55;
        var (_, rsp) = Send(p, obj);
        Assert.Equal((byte)DoeObjectType.Spdm, rsp[2]);
        Assert.Equal((byte)SpdmErrorCode.InvalidRequest, rsp[DoeHeader.Size + 2]);
        Assert.Equal(SpdmSessionState.Established, p.Responder.Sessions[session.SessionId].State);
    }

    [Fact]
    public async Task TamperedResponse_EndsTheRequestersSessionWithoutThrowing()
    {
        using var p = Pair();
        var session = await SpdmErrorTests.EstablishAsync(p);
        p.Wire.RewriteResponse = r => { r[^1] ^= 0x80; return r; }; // the MAC's last byte (no DOE padding: 36-byte object)
        var res = await p.Requester.HeartbeatAsync(session);
        Assert.False(res.Ok);
        Assert.Equal(SpdmSessionState.Ended, session.State);
        Assert.False((await p.Requester.HeartbeatAsync(session)).Ok);
    }

    [Fact]
    public async Task TamperedKeyExchangeSignature_IsRefusedByTheRequester()
    {
        using var p = Pair();
        var r = p.Requester;
        Assert.True((await r.InitConnectionAsync()).Ok);
        Assert.True((await r.GetCertificateAsync()).Ok);
        p.Wire.RewriteResponse = b => { b[DoeHeader.Size + 40 + 96 + 2 + 12 + 5] ^= 1; return b; }; // a signature byte after the opaque data
        var (res, s) = await r.KeyExchangeAsync();
        Assert.False(res.Ok);
        Assert.Null(s);
        Assert.Contains("signature", res.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TamperedMeasurementSignature_IsRefused()
    {
        using var p = Pair();
        var r = p.Requester;
        Assert.True((await r.InitConnectionAsync()).Ok);
        Assert.True((await r.GetCertificateAsync()).Ok);
        p.Wire.RewriteResponse = b => { b[DoeHeader.Size + 20] ^= 1; return b; }; // a measurement byte
        var res = await r.GetMeasurementsAsync(0xFF, signed: true);
        Assert.False(res.Ok);
        Assert.Contains("signature", res.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WrongRoot_IsRefusedAtTheCertificate()
    {
        using var other = Pair(SpdmSuite.P256Sha256Aes128);
        using var p = Pair(requester: s => s with { TrustedRoot = other.Root });
        Assert.True((await p.Requester.InitConnectionAsync()).Ok);
        var res = await p.Requester.GetCertificateAsync();
        Assert.False(res.Ok);
        Assert.Null(p.Requester.ResponderKey);
        Assert.False((await p.Requester.KeyExchangeAsync()).Result.Ok);
    }

    [Fact]
    public async Task NoPlaintextTdispOrIdeKmByte_AfterTheSessionStarts()
    {
        using var p = Pair();
        var session = await SpdmErrorTests.EstablishAsync(p);
        int from = p.Wire.Log.Count;
        // IDE_KM QUERY and TDISP GET_DEVICE_INTERFACE_STATE with a distinctive 12-byte interface id tail.
        var rsp = new byte[1024];
        await p.Requester.VendorDefinedAsync(session, new byte[] { 0x00, 0x00, 0x00, 0x00 }, rsp);
        await p.Requester.VendorDefinedAsync(session, new byte[] { 0x01, 0x10, 0x85, 0, 0, 0x00, 0x01, 0, 0, 0xA5, 0x5A, 0xC3, 0x3C, 0x96, 0x69, 0x0F, 0xF0 }, rsp);
        foreach (var (req, res) in p.Wire.Log.Skip(from))
        {
            Assert.Equal((byte)DoeObjectType.SecuredSpdm, req[2]);
            Assert.Equal((byte)DoeObjectType.SecuredSpdm, res[2]);
            Assert.Equal(-1, req.AsSpan().IndexOf(new byte[] { 0xA5, 0x5A, 0xC3, 0x3C }));
            Assert.Equal(-1, req.AsSpan().IndexOf(new byte[] { 0x10, 0x85, 0, 0 }));
            Assert.Equal(-1, res.AsSpan().IndexOf(new byte[] { 0x10, 0x05, 0, 0 }));
        }
    }

    [Fact]
    public void DoeDiscovery_ListsDiscoverySpdmAndSecuredSpdm()
    {
        using var p = Pair();
        var seen = new List<string>();
        byte index = 0;
        do
        {
            byte[] obj = [0x01, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, index, 0, 0, 0];
            var (n, rsp) = Send(p, obj);
            Assert.Equal(12, n);
            Assert.Equal("010000000300000001", Convert.ToHexStringLower(rsp.AsSpan(0, 9)));
            seen.Add($"{rsp[10]}");
            index = rsp[11];
        } while (index != 0);
        Assert.Equal(["0", "1", "2"], seen);
    }
}
