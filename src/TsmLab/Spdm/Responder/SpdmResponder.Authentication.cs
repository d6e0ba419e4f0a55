using System.Buffers.Binary;
using TsmLab.Spdm.Wire;

namespace TsmLab.Spdm.Responder;

/// <summary>GET_DIGESTS, GET_CERTIFICATE, CHALLENGE and the M1/M2 transcript [SP1].</summary>
/// <remarks>
/// One provisioned slot (0). B accumulates GET_DIGESTS/DIGESTS and GET_CERTIFICATE/CERTIFICATE;
/// CHALLENGE_AUTH signs Hash(VCA || B || CHALLENGE || CHALLENGE_AUTH without the signature) under
/// "responder-challenge_auth signing". B is reset after CHALLENGE_AUTH, and by KEY_EXCHANGE,
/// GET_MEASUREMENTS, FINISH, HEARTBEAT, KEY_UPDATE and END_SESSION while CHALLENGE has not completed
/// (DSP0274 "Transcript and transcript hash calculation rules"; libspdm does the same [SP5]).
/// </remarks>
public sealed partial class SpdmResponder
{
    private const byte SlotMask = 0x01;
    private const int NonceSize = 32;
    private const int RequesterContextSize = 8;
    /// <summary>Largest CERTIFICATE portion (TsmLab definition, libspdm's default block length).</summary>
    private const int MaxCertificatePortion = 1024;

    private readonly List<byte> messageB = [];

    /// <summary>GET_DIGESTS → DIGESTS: the hash of slot 0's certificate chain.</summary>
    internal int GetDigests(RequestContext c)
    {
        int h = Algorithms.HashSize;
        var r = c.Response;
        Header(r, SpdmCode.Digests, Version >= SpdmVersion.V13 ? SlotMask : (byte)0, SlotMask);
        certChainHash.CopyTo(r[4..]);
        if (c.Session is null)
        {
            messageB.AddRange(c.Request[..4]);
            messageB.AddRange(r[..(4 + h)]);
        }
        if (ConnectionState < SpdmConnectionState.AfterDigests) ConnectionState = SpdmConnectionState.AfterDigests;
        return 4 + h;
    }

    /// <summary>GET_CERTIFICATE → CERTIFICATE: a portion of slot 0's chain (1.3 SlotSizeRequested: the size only).</summary>
    internal int GetCertificate(RequestContext c)
    {
        var q = c.Request;
        int slot = q[2] & 0x0F;
        if (slot != 0 || (q[2] & 0x80) != 0)
            return Error(c.Response, SpdmErrorCode.InvalidRequest);
        int offset = U16(q, 4), length = U16(q, 6);
        bool sizeOnly = Version >= SpdmVersion.V13 && (q[3] & 0x01) != 0;
        if (!sizeOnly && offset >= certChain.Length)
            return Error(c.Response, SpdmErrorCode.InvalidRequest);
        int cap = Math.Min(MaxCertificatePortion, Math.Min(peerDataTransferSize, Settings.DataTransferSize) - 8);
        int portion = sizeOnly ? 0 : Math.Min(Math.Min(length, cap), certChain.Length - offset);
        int remainder = sizeOnly ? certChain.Length : certChain.Length - offset - portion;
        var r = c.Response;
        Header(r, SpdmCode.Certificate, (byte)slot);
        BinaryPrimitives.WriteUInt16LittleEndian(r[4..], (ushort)portion);
        BinaryPrimitives.WriteUInt16LittleEndian(r[6..], (ushort)remainder);
        if (portion > 0) certChain.AsSpan(offset, portion).CopyTo(r[8..]);
        if (c.Session is null)
        {
            messageB.AddRange(q[..8]);
            messageB.AddRange(r[..(8 + portion)]);
        }
        if (ConnectionState < SpdmConnectionState.AfterCertificate) ConnectionState = SpdmConnectionState.AfterCertificate;
        return 8 + portion;
    }

    /// <summary>CHALLENGE → CHALLENGE_AUTH, signed over M1 [SP1].</summary>
    internal int Challenge(RequestContext c)
    {
        var q = c.Request;
        int size = 36 + (Version >= SpdmVersion.V13 ? RequesterContextSize : 0);
        if (q.Length < size || q[2] != 0 || !SummaryHashTypeValid(q[3]))
            return Error(c.Response, SpdmErrorCode.InvalidRequest);
        int h = Algorithms.HashSize, s = Algorithms.SignatureSize;
        int summary = q[3] == 0 ? 0 : h;
        var r = c.Response;
        Header(r, SpdmCode.ChallengeAuth, 0, SlotMask);
        int at = 4;
        certChainHash.CopyTo(r[at..]);
        at += h;
        Fill(Settings.Entropy, r.Slice(at, NonceSize));
        at += NonceSize;
        if (summary > 0) { MeasurementSummaryHash(q[3]).CopyTo(r[at..]); at += summary; }
        BinaryPrimitives.WriteUInt16LittleEndian(r[at..], 0);
        at += 2;
        if (Version >= SpdmVersion.V13) { q.Slice(36, RequesterContextSize).CopyTo(r[at..]); at += RequesterContextSize; }
        var m1 = new byte[vca.Count + messageB.Count + size + at];
        vca.CopyTo(m1);
        messageB.CopyTo(m1, vca.Count);
        q[..size].CopyTo(m1.AsSpan(vca.Count + messageB.Count));
        r[..at].CopyTo(m1.AsSpan(vca.Count + messageB.Count + size));
        SpdmSignature.Sign(Identity.LeafKey, Algorithms, Version, SpdmSignature.ChallengeAuthContext, m1, r.Slice(at, s));
        messageB.Clear();
        ConnectionState = SpdmConnectionState.Authenticated;
        return at + s;
    }

    private static bool SummaryHashTypeValid(byte type) => type is 0 or 1 or 0xFF;

    /// <summary>
    /// The measurement summary hash: Hash(concatenation of the measurement blocks, digest form) over all
    /// measurements (0xFF) or the TCB's (1: immutable ROM and mutable firmware, a TsmLab definition).
    /// </summary>
    private byte[] MeasurementSummaryHash(byte type)
    {
        var all = new List<byte>();
        foreach (var m in Identity.Measurements)
            if (type == 0xFF || (m.Type & 0x7F) is 0 or 1)
                all.AddRange(EncodeBlock(m, raw: false));
        return Algorithms.Hash(all.ToArray());
    }

    /// <summary>One DMTF measurement block: index, spec 0x01, size u16, then type (bit 7 raw), value size u16, value.</summary>
    private byte[] EncodeBlock(SpdmMeasurement m, bool raw)
    {
        bool asRaw = raw && m.RawAvailable;
        byte[] value = asRaw ? m.Value : Algorithms.MeasurementDigest(m.Value);
        var b = new byte[7 + value.Length];
        b[0] = m.Index;
        b[1] = SpdmAlgorithmBits.MeasurementSpecDmtf;
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(2), (ushort)(3 + value.Length));
        b[4] = (byte)((m.Type & 0x7F) | (asRaw ? 0x80 : 0));
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(5), (ushort)value.Length);
        value.CopyTo(b, 7);
        return b;
    }
}
