using System.Buffers.Binary;
using TsmLab.Spdm.Wire;

namespace TsmLab.Spdm.Responder;

/// <summary>GET_MEASUREMENTS and the L1/L2 transcript [SP1].</summary>
/// <remarks>
/// Request: param1 bit 0 SignatureRequested, bit 1 RawBitStreamRequested; param2 the operation (0 =
/// count, 1..0xFE one index, 0xFF all); Nonce and SlotIDParam when signed; 1.3+ RequesterContext
/// always. Response: NumberOfBlocks, MeasurementRecordLength u24, the record, Nonce, OpaqueDataLength
/// 0, 1.3+ RequesterContext, and when signed the signature over Hash(VCA || every GET_MEASUREMENTS and
/// MEASUREMENTS since the last signed one (this one without its signature)) under
/// "responder-measurements signing". L1/L2 is kept per session inside one, else per connection; any
/// other request resets it.
/// </remarks>
public sealed partial class SpdmResponder
{
    private readonly List<byte> messageM = [];

    internal int GetMeasurements(RequestContext c)
    {
        var q = c.Request;
        var transcript = c.Session?.MessageM ?? messageM;
        bool signed = (q[2] & 0x01) != 0, raw = (q[2] & 0x02) != 0;
        int size = (signed ? 37 : 4) + (Version >= SpdmVersion.V13 ? RequesterContextSize : 0);
        if (q.Length < size || (signed && q[36] != 0))
        {
            transcript.Clear();
            return Error(c.Response, SpdmErrorCode.InvalidRequest);
        }
        if (Algorithms.MeasurementHash == 0)
        {
            transcript.Clear();
            return Error(c.Response, SpdmErrorCode.UnexpectedRequest);
        }
        byte op = q[3];
        var measurements = Identity.Measurements;
        var blocks = new List<byte[]>();
        if (op == 0xFF)
            foreach (var m in measurements) blocks.Add(EncodeBlock(m, raw));
        else if (op != 0)
        {
            var m = measurements.FirstOrDefault(x => x.Index == op);
            if (m is null)
            {
                transcript.Clear();
                return Error(c.Response, SpdmErrorCode.InvalidRequest);
            }
            blocks.Add(EncodeBlock(m, raw));
        }
        int record = blocks.Sum(b => b.Length);
        int s = signed ? Algorithms.SignatureSize : 0;
        int total = 8 + record + NonceSize + 2 + (Version >= SpdmVersion.V13 ? RequesterContextSize : 0) + s;
        // Above the requester's DataTransferSize it goes by CHUNK_GET (CHUNK_CAP on both ends), up to the
        // requester's MaxSPDMmsgSize; otherwise answer ResponseTooLarge before touching the transcript.
        long limit = Chunking ? peerMaxMessageSize : ResponseLimit;
        if (total > limit)
        {
            transcript.Clear();
            return SpdmErrorMessage.WriteResponseTooLarge(c.Response, Version, total);
        }
        // A response larger than the mailbox's response buffer is built where CHUNK_GET serves it from.
        bool large = total > c.Response.Length;
        var r = large ? LargeResponseBuffer(total) : c.Response;
        Header(r, SpdmCode.Measurements, op == 0 ? (byte)measurements.Count : (byte)0, 0);
        r[4] = (byte)blocks.Count;
        WriteU24(r[5..], record);
        int at = 8;
        foreach (var b in blocks) { b.CopyTo(r[at..]); at += b.Length; }
        Fill(Settings.Entropy, r.Slice(at, NonceSize));
        at += NonceSize;
        BinaryPrimitives.WriteUInt16LittleEndian(r[at..], 0);
        at += 2;
        if (Version >= SpdmVersion.V13) { q.Slice(size - RequesterContextSize, RequesterContextSize).CopyTo(r[at..]); at += RequesterContextSize; }
        transcript.AddRange(q[..size]);
        transcript.AddRange(r[..at]);
        if (signed)
        {
            var l1 = new byte[vca.Count + transcript.Count];
            vca.CopyTo(l1);
            transcript.CopyTo(l1, vca.Count);
            SpdmSignature.Sign(Identity.LeafKey, Algorithms, Version, SpdmSignature.MeasurementsContext, l1, r.Slice(at, s));
            transcript.Clear();
        }
        return large ? BeginLargeResponse(c.Response, at + s) : at + s;
    }

    /// <summary>DSP0274's transcript resets after a successful request (libspdm_reset_message_buffer_via_request_code [SP5]).</summary>
    private void ResetTranscriptsAfter(byte code, SessionEntry? session)
    {
        if (code != SpdmCode.GetMeasurements)
        {
            messageM.Clear();
            session?.MessageM.Clear();
        }
        if (code is SpdmCode.KeyExchange or SpdmCode.GetMeasurements or SpdmCode.Finish or SpdmCode.PskExchange or SpdmCode.PskFinish
                or SpdmCode.KeyUpdate or SpdmCode.Heartbeat or SpdmCode.EndSession
            && ConnectionState < SpdmConnectionState.Authenticated)
            messageB.Clear();
    }
}
