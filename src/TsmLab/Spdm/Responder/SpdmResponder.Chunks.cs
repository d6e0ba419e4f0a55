using System.Buffers.Binary;
using TsmLab.Spdm.Wire;

namespace TsmLab.Spdm.Responder;

/// <summary>Large responses in chunks: ERROR LargeResponse, then CHUNK_GET / CHUNK_RESPONSE (DSP0274 1.2+ chunking) [SP1,D3].</summary>
/// <remarks>
/// When a response is larger than the requester's DataTransferSize and both ends have CHUNK_CAP, the
/// responder keeps the whole response (already in its transcripts, as the large message is), answers
/// ERROR LargeResponse with ExtendedErrorData = the handle, and serves it with CHUNK_GET: header,
/// ChunkSeqNo (u16 + reserved u16 before 1.4, u32 at 1.4), ChunkSize u32, LargeMessageSize u32 in
/// chunk 0 only, the chunk; param1 bit 0 marks the last chunk, param2 echoes the handle, and the
/// handle advances after the last one (libspdm's responder does the same [SP5]). Any other request
/// drops a pending large response. Without CHUNK_CAP on both ends the answer is ResponseTooLarge.
/// </remarks>
public sealed partial class SpdmResponder
{
    private byte[] largeResponse = [];
    private int largeSize;
    private int largeSent;
    private uint chunkSeq;
    private byte chunkHandle;

    private long peerMaxMessageSize;

    private bool Chunking => (Settings.Capabilities & peerCapabilities & SpdmCapabilities.Chunk) != 0;

    /// <summary>The most a response may be before chunking (or ResponseTooLarge) applies.</summary>
    private int ResponseLimit => Math.Min(peerDataTransferSize == 0 ? Settings.DataTransferSize : peerDataTransferSize, Settings.DataTransferSize);

    /// <summary>Turns an <paramref name="n"/>-byte response above the requester's DataTransferSize into LargeResponse (or ResponseTooLarge).</summary>
    private int LimitResponse(Span<byte> response, int n)
    {
        if (n <= ResponseLimit) return n;
        if (!Chunking || n > peerMaxMessageSize) return SpdmErrorMessage.WriteResponseTooLarge(response, Version, n);
        response[..n].CopyTo(LargeResponseBuffer(n));
        return BeginLargeResponse(response, n);
    }

    private void DropLargeResponse() => largeSize = 0;

    /// <summary>Where a handler builds a response too large for the mailbox's buffer (at least <paramref name="n"/> bytes).</summary>
    private Span<byte> LargeResponseBuffer(int n)
    {
        if (largeResponse.Length < n) largeResponse = new byte[n];
        return largeResponse.AsSpan(0, n);
    }

    /// <summary>Serves the <paramref name="n"/>-byte response a handler built in <see cref="LargeResponseBuffer"/> by CHUNK_GET: ERROR LargeResponse now.</summary>
    private int BeginLargeResponse(Span<byte> response, int n)
    {
        largeSize = n;
        largeSent = 0;
        chunkSeq = 0;
        SpdmErrorMessage.Write(response, Version, SpdmErrorCode.LargeResponse);
        response[4] = chunkHandle;
        return SpdmErrorMessage.Size + 1;
    }

    internal int ChunkGet(RequestContext c)
    {
        var q = c.Request;
        bool v14 = Version >= SpdmVersion.V14;
        int size = v14 ? 8 : 6;
        if (largeSize == 0)
            return Error(c.Response, SpdmErrorCode.UnexpectedRequest);
        uint seq = v14 ? (q.Length >= 8 ? BinaryPrimitives.ReadUInt32LittleEndian(q[4..]) : uint.MaxValue) : (q.Length >= 6 ? U16(q, 4) : uint.MaxValue);
        if (q.Length < size || q[3] != chunkHandle || seq != chunkSeq)
            return Error(c.Response, SpdmErrorCode.InvalidRequest);
        int header = 12 + (chunkSeq == 0 ? 4 : 0);
        int chunk = Math.Min(ResponseLimit - header, largeSize - largeSent);
        bool last = largeSent + chunk == largeSize;
        var r = c.Response;
        Header(r, SpdmCode.ChunkResponse, last ? (byte)1 : (byte)0, chunkHandle);
        if (v14)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(r[4..], chunkSeq);
        }
        else
        {
            BinaryPrimitives.WriteUInt16LittleEndian(r[4..], (ushort)chunkSeq);
            BinaryPrimitives.WriteUInt16LittleEndian(r[6..], 0);
        }
        BinaryPrimitives.WriteUInt32LittleEndian(r[8..], (uint)chunk);
        if (chunkSeq == 0) BinaryPrimitives.WriteUInt32LittleEndian(r[12..], (uint)largeSize);
        largeResponse.AsSpan(largeSent, chunk).CopyTo(r[header..]);
        largeSent += chunk;
        chunkSeq++;
        if (last)
        {
            largeSize = 0;
            chunkHandle++;
        }
        return header + chunk;
    }
}
