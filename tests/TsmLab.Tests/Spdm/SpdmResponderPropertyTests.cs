using CsCheck;
using TsmLab.Spdm.Session;
using TsmLab.Spdm.Wire;
using TsmLab.Tdisp.Wire;
using static TsmLab.Tests.Spdm.SpdmTestKit;

namespace TsmLab.Tests.Spdm;

/// <summary>Random bytes at the responder, in every connection phase: always a well-formed answer, never an exception.</summary>
public sealed class SpdmResponderPropertyTests
{
    private enum Phase { Fresh, Negotiated, InSession }

    /// <summary>A request byte string biased towards real SPDM: a known version and request code, then random bytes.</summary>
    private static readonly byte[] Versions = [0x10, 0x12, 0x13, 0x14, 0x00, 0xFF];
    private static readonly byte[] Codes = [0x81, 0x82, 0x83, 0x84, 0xE0, 0xE1, 0xE3, 0xE4, 0xE5, 0xE8, 0xE9, 0xEC, 0xFE, 0x86, 0x01, 0x7F];

    private static readonly Gen<byte[]> Request = Gen.Select(
        Gen.Int[0, Versions.Length - 1].Select(i => Versions[i]),
        Gen.Int[0, Codes.Length - 1].Select(i => Codes[i]),
        Gen.Byte.Array[0, 200]).Select((v, c, rest) => (byte[])[v, c, .. rest]);

    [Fact]
    public void RandomRequests_AlwaysGetAWellFormedAnswer_AndNeverThrow()
    {
        Gen.Select(Gen.Enum<Phase>(), Request.Array[1, 6], Gen.Bool).Sample((phase, requests, secured) =>
        {
            using var p = Pair(version: SpdmVersion.V13);
            SpdmSession? session = null;
            if (phase >= Phase.Negotiated && !p.Requester.InitConnectionAsync().AsTask().Result.Ok) return false;
            if (phase == Phase.InSession) session = SpdmErrorTests.EstablishAsync(p).Result;
            foreach (var q in requests)
            {
                byte[] obj;
                if (secured && session?.RequestAead is { } tx)
                {
                    obj = new byte[DoeHeader.ObjectSize(q.Length + SecuredMessage.Overhead)];
                    int body = SecuredMessage.Seal(session.SessionId, tx, q, obj.AsSpan(DoeHeader.Size));
                    DoeHeader.Write(obj, DoeObjectType.SecuredSpdm, body);
                }
                else
                {
                    obj = new byte[DoeHeader.ObjectSize(q.Length)];
                    q.CopyTo(obj, DoeHeader.Size);
                    DoeHeader.Write(obj, DoeObjectType.Spdm, q.Length);
                }
                var rsp = new byte[p.Mailbox.MaxResponseSize];
                int n = p.Mailbox.Exchange(obj, rsp);
                if (n < DoeHeader.Size + 4 || !DoeHeader.TryRead(rsp, out var h) || h.LengthBytes != n) return false;
                byte[] m = rsp[DoeHeader.Size..n];
                if (h.Type == DoeObjectType.SecuredSpdm)
                {
                    var app = new byte[m.Length];
                    int k = SecuredMessage.Open(session!.ResponseAead!, m, app);
                    if (k < 4) return false;
                    m = app[..k];
                    if (m[1] == SpdmCode.EndSessionAck) session = null;
                }
                else if (h.Type != DoeObjectType.Spdm) return false;
                else if (m[1] == SpdmCode.Error && m[2] == (byte)SpdmErrorCode.DecryptError) session = null;
                // An answer is ERROR or the response to the request's code (the code without bit 7).
                if (m[1] != SpdmCode.Error && m[1] != (q[1] & 0x7F)) return false;
                if (m[0] is not (0x10 or 0x12 or 0x13 or 0x14)) return false;
            }
            return true;
        }, iter: 100);
    }
}
