using CsCheck;
using TsmLab.Spdm.Requester;
using TsmLab.Spdm.Wire;
using TsmLab.Tdisp.Wire;
using static TsmLab.Tests.Spdm.SpdmTestKit;

namespace TsmLab.Tests.Spdm;

/// <summary>A misbehaving device (or relay): the requester never throws and never reports success for garbage.</summary>
public sealed class SpdmRequesterPropertyTests
{
    /// <summary>Answers each object with the real responder's answer, one byte of it replaced, or random bytes.</summary>
    private sealed class CorruptingChannel(TsmLab.Kernel.Pci.IDoeMailbox real, (int Step, int Mode, int At, byte Value)[] faults) : ISpdmDoeChannel
    {
        private int step;

        public ValueTask<int> ExchangeAsync(ReadOnlyMemory<byte> requestObject, Memory<byte> responseObject)
        {
            int n = real.Exchange(requestObject.Span, responseObject.Span);
            foreach (var f in faults)
            {
                if (f.Step != step) continue;
                var r = responseObject.Span;
                switch (f.Mode)
                {
                    case 0 when n > 0: r[f.At % n] ^= (byte)(f.Value | 1); break;            // flip bits
                    case 1: n = Math.Min(n, f.At % (n + 1)); break;                          // truncate
                    case 2: r[..Math.Min(r.Length, 64)].Fill(f.Value); n = 8 + f.At % 56; break; // junk object
                }
            }
            step++;
            return ValueTask.FromResult(n);
        }
    }

    [Fact]
    public void CorruptedAnswers_NeverThrow()
    {
        var fault = Gen.Select(Gen.Int[0, 12], Gen.Int[0, 2], Gen.Int[0, 4000], Gen.Byte);
        fault.Array[1, 3].Sample(faults =>
        {
            using var p = Pair(version: SpdmVersion.V14);
            using var r = new SpdmRequester(new CorruptingChannel(p.Mailbox, faults), p.Requester.Settings);
            var results = new List<SpdmRequesterResult>();
            results.Add(r.InitConnectionAsync().AsTask().Result);
            results.Add(r.GetDigestsAsync().AsTask().Result);
            results.Add(r.GetCertificateAsync().AsTask().Result);
            results.Add(r.ChallengeAsync(0xFF).AsTask().Result);
            results.Add(r.GetMeasurementsAsync().AsTask().Result);
            var (ke, session) = r.KeyExchangeAsync().AsTask().Result;
            results.Add(ke);
            if (session is not null)
            {
                results.Add(r.FinishAsync(session).AsTask().Result);
                results.Add(r.HeartbeatAsync(session).AsTask().Result);
                results.Add(r.KeyUpdateAsync(session, 2).AsTask().Result);
                results.Add(r.VendorDefinedAsync(session, new byte[] { 1, 0x10, 0x81, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, new byte[512]).AsTask().Result.Result);
                results.Add(r.EndSessionAsync(session).AsTask().Result);
            }
            // Every failure has a reason; nothing threw (Sample would report it).
            return results.All(x => x.Ok || x.Reason is not null);
        }, iter: 60);
    }
}
