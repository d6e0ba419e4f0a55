using TsmLab.Spdm.Responder;
using TsmLab.Spdm.Session;
using TsmLab.Spdm.Wire;
using static TsmLab.Tests.Spdm.SpdmTestKit;

namespace TsmLab.Tests.Spdm;

/// <summary>Responses above the requester's DataTransferSize: LargeResponse and CHUNK_GET [SP1].</summary>
public sealed class SpdmChunkTests
{
    private static SpdmResponderSettings Chunking() => new()
    {
        Capabilities = new SpdmResponderSettings().Capabilities | SpdmCapabilities.Chunk,
        Entropy = new TsmLab.Tdisp.Device.DeterministicEntropySource(4),
    };

    private static SpdmPair SmallRequester(byte version, bool chunk = true) => Pair(version: version, responderSettings: Chunking(),
        requester: s => s with { DataTransferSize = 64, Capabilities = chunk ? s.Capabilities | SpdmCapabilities.Chunk : s.Capabilities });

    [Theory]
    [InlineData(SpdmVersion.V12)]
    [InlineData(SpdmVersion.V13)]
    [InlineData(SpdmVersion.V14)] // 32-bit ChunkSeqNo
    public async Task EverythingLarge_ArrivesInChunks_AndVerifies(byte version)
    {
        using var p = SmallRequester(version);
        var session = Establish(p); // CHALLENGE_AUTH, MEASUREMENTS and KEY_EXCHANGE_RSP exceed 64 bytes
        Assert.Contains(p.Wire.Log, x => x.Request.Length > 9 && x.Request[9] == SpdmCode.ChunkGet);
        Assert.True((await p.Requester.GetMeasurementsAsync(0xFF, signed: true, session: session)).Ok); // chunked inside the session
        Assert.True((await p.Requester.EndSessionAsync(session)).Ok);
        foreach (var (req, rsp) in p.Wire.Log.Where(x => x.Response.Length > 8 && x.Response[2] == 1))
            Assert.True(rsp.Length - 8 <= 64 + 3, "a plain response above the DataTransferSize");
    }

    [Theory]
    [InlineData(1 << 16, false)] // the record is above what the requester takes: ResponseTooLarge
    [InlineData(1 << 20, true)]  // the requester takes 1 MiB: the MEASUREMENTS arrive in chunks and verify
    public async Task MeasurementsAboveTheMailboxBuffer_AreChunked_UpToTheRequestersMaxSpdmMsgSize(int maxMessage, bool fits)
    {
        // A platform model's device with 130 KB of raw measurements: it offers CHUNK_CAP by itself.
        var d = TsmLab.Tdisp.Device.DeviceConfiguration.Default;
        var blocks = Enumerable.Range(1, 2).Select(i => new TsmLab.Tdisp.Device.MeasurementConfiguration((byte)i, 6, true, new byte[65000])).ToList();
        var device = new TsmLab.Tdisp.Device.TdispPciDevice(d with { Identity = d.Identity with { Measurements = blocks } });
        using var requester = new TsmLab.Spdm.Requester.SpdmRequester(new TsmLab.Spdm.Requester.MailboxChannel(device.Mailbox), new TsmLab.Spdm.Requester.SpdmRequesterSettings
        {
            TrustedRoot = device.Dsm.Identity.RootCertificate,
            Capabilities = new TsmLab.Spdm.Requester.SpdmRequesterSettings().Capabilities | SpdmCapabilities.Chunk,
            MaxMessageSize = maxMessage,
        });
        Assert.True((await requester.InitConnectionAsync()).Ok);
        Assert.True((await requester.GetDigestsAsync()).Ok);
        Assert.True((await requester.GetCertificateAsync()).Ok);
        var r = await requester.GetMeasurementsAsync(0xFF, signed: true, raw: true);
        if (fits)
        {
            Assert.True(r.Ok, r.ToString());
            Assert.Equal(device.Dsm.Identity.MeasurementRecord(), requester.MeasurementRecord);
        }
        else Assert.Equal(SpdmErrorCode.ResponseTooLarge, r.Error);
    }

    [Fact]
    public async Task WithoutChunkCap_ALargeResponse_IsResponseTooLargeAndLeavesNoSession()
    {
        using var p = SmallRequester(SpdmVersion.V13, chunk: false);
        Assert.True((await p.Requester.InitConnectionAsync()).Ok);
        Assert.True((await p.Requester.GetCertificateAsync()).Ok); // portions fit
        var (res, s) = await p.Requester.KeyExchangeAsync();
        Assert.Equal(SpdmErrorCode.ResponseTooLarge, res.Error);
        Assert.Null(s);
        Assert.Empty(p.Responder.Sessions);
    }

    [Fact]
    public async Task ChunkGet_WithNothingPendingOrAWrongHandleOrSequence_IsRefused()
    {
        using var p = SmallRequester(SpdmVersion.V13);
        Assert.True((await p.Requester.InitConnectionAsync()).Ok);
        var m = Plain(p.Mailbox, [0x13, 0x86, 0, 0, 0, 0]).Message;
        Assert.Equal((byte)SpdmErrorCode.UnexpectedRequest, m[2]);
        Assert.True((await p.Requester.GetCertificateAsync()).Ok);
        m = Plain(p.Mailbox, [0x13, 0x83, 0, 0, .. new byte[40]]).Message; // CHALLENGE: a large CHALLENGE_AUTH
        Assert.Equal((byte)SpdmErrorCode.LargeResponse, m[2]);
        byte handle = m[4];
        Assert.Equal((byte)SpdmErrorCode.InvalidRequest, Plain(p.Mailbox, [0x13, 0x86, 0, (byte)(handle + 1), 0, 0]).Message[2]);
        Assert.Equal((byte)SpdmErrorCode.InvalidRequest, Plain(p.Mailbox, [0x13, 0x86, 0, handle, 1, 0]).Message[2]);
        var first = Plain(p.Mailbox, [0x13, 0x86, 0, handle, 0, 0]).Message;
        Assert.Equal(SpdmCode.ChunkResponse, first[1]);
        Assert.Equal(0, first[2] & 1);
        Assert.True(BitConverter.ToUInt32(first, 12) > 64); // LargeMessageSize in chunk 0
        // Another request drops the large response.
        Assert.Equal(SpdmCode.Digests, Plain(p.Mailbox, [0x13, 0x81, 0, 0]).Message[1]);
        Assert.Equal((byte)SpdmErrorCode.UnexpectedRequest, Plain(p.Mailbox, [0x13, 0x86, 0, handle, 1, 0]).Message[2]);
    }
}
