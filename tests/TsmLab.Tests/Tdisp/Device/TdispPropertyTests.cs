using CsCheck;
using TsmLab.Tdisp.Device;
using TsmLab.Tdisp.Wire;
using static TsmLab.Tests.Tdisp.TdispTestKit;

namespace TsmLab.Tests.Tdisp;

/// <summary>
/// Random request sequences against the device, checked step by step against a small independent
/// reference model of §5.6 (states, nonce, IDE readiness, report sizes, events).
/// </summary>
public class TdispPropertyTests
{
    private enum Op { GetState, Lock, LockBadFlag, StartGood, StartBad, Stop, Report, Flr, ConfigWrite, ProgramKeys, KeyStop, BadVersion }

    private static readonly uint[] Functions = [0x0100, 0x0101, 0x0102];
    private static readonly int[] ReportSizes = [106, 90, 90];

    private sealed class Model
    {
        public readonly TdiState[] States = new TdiState[3];
        public readonly byte[][] Nonces = [[], [], []];
        public bool KeysReady;
    }

    [Fact]
    public void RandomSequences_MatchTheReferenceModel()
    {
        var step = Gen.Select(Gen.Enum<Op>(), Gen.Int[0, 2], Gen.Int[0, 120], Gen.Int[0, 120]);
        step.Array[1, 60].Sample(steps =>
        {
            var dsm = NewDevice();
            var model = new Model();
            foreach (var (op, t, a, b) in steps)
                Apply(dsm, model, op, t, (ushort)a, (ushort)b);
        }, iter: 300);
    }

    private static void Apply(DeviceSecurityManager dsm, Model m, Op op, int t, ushort a, ushort b)
    {
        uint fid = Functions[t];
        var s = m.States[t];
        bool lockedOrRun = s is TdiState.ConfigLocked or TdiState.Run;
        switch (op)
        {
            case Op.GetState:
                var st = Send(dsm, Msg(0x85, functionId: fid));
                Assert.Equal(0x05, st[1]);
                Assert.Equal((byte)s, st[16]);
                break;
            case Op.Lock:
            {
                var r = Send(dsm, LockMessage(0x0004, 0, 0, fid));
                if (s != TdiState.ConfigUnlocked)
                    AssertError(r, TdispErrorCode.InvalidInterfaceState);
                else if (!m.KeysReady)
                    AssertError(r, TdispErrorCode.InvalidRequest);
                else
                {
                    Assert.True(LockInterfaceResponse.TryRead(r, out var l));
                    m.Nonces[t] = l.StartInterfaceNonce.ToArray();
                    m.States[t] = TdiState.ConfigLocked;
                }
                break;
            }
            case Op.LockBadFlag:
                AssertError(Send(dsm, LockMessage(0x0020, 0, 0, fid)),
                    s == TdiState.ConfigUnlocked ? TdispErrorCode.InvalidRequest : TdispErrorCode.InvalidInterfaceState);
                break;
            case Op.StartGood:
            case Op.StartBad:
            {
                var nonce = op == Op.StartGood && m.Nonces[t].Length == 32 ? m.Nonces[t] : new byte[32];
                var r = Send(dsm, Msg(0x86, ToHex(nonce), fid));
                if (s != TdiState.ConfigLocked)
                    AssertError(r, TdispErrorCode.InvalidInterfaceState);
                else if (op == Op.StartBad)
                    AssertError(r, TdispErrorCode.InvalidNonce);
                else
                {
                    Assert.Equal(0x06, r[1]);
                    m.States[t] = TdiState.Run;
                }
                break;
            }
            case Op.Stop:
                Assert.Equal(0x07, Send(dsm, Msg(0x87, functionId: fid))[1]);
                m.States[t] = TdiState.ConfigUnlocked;
                m.Nonces[t] = [];
                break;
            case Op.Report:
            {
                var r = Send(dsm, Msg(0x84, $"{a & 0xFF:x2}{a >> 8:x2}{b & 0xFF:x2}{b >> 8:x2}", fid));
                int size = ReportSizes[t];
                if (!lockedOrRun)
                    AssertError(r, TdispErrorCode.InvalidInterfaceState);
                else if (b == 0 || a >= size)
                    AssertError(r, TdispErrorCode.InvalidRequest);
                else
                {
                    Assert.True(DeviceInterfaceReportResponse.TryRead(r, out var p));
                    int portion = Math.Min(b, size - a);
                    Assert.Equal(portion, p.Portion.Length);
                    Assert.Equal(size - a - portion, p.RemainderLength);
                }
                break;
            }
            case Op.Flr:
                dsm.FindInterface(new TdiFunctionId(fid))!.FunctionLevelReset();
                for (int i = 0; i < 3; i++)
                    if ((i == t || t == 0) && m.States[i] is TdiState.ConfigLocked or TdiState.Run)
                        m.States[i] = TdiState.Error;
                break;
            case Op.ConfigWrite:
                Assert.Equal(lockedOrRun, dsm.FindInterface(new TdiFunctionId(fid))!.ConfigWrite(0x10 + 4 * (a % 6), 4));
                if (lockedOrRun)
                    m.States[t] = TdiState.Error;
                break;
            case Op.ProgramKeys:
                ProgramKeys(dsm);
                m.KeysReady = true;
                break;
            case Op.KeyStop:
                Requester(dsm).KeySetStop(0, IdeKeySubStream.Create(0, IdeKeyDirection.Receive, (IdeSubStream)(a % 3)), 0);
                m.KeysReady = false;
                break;
            case Op.BadVersion:
                AssertError(Send(dsm, Msg(0x85, functionId: fid, version: 0x20)), TdispErrorCode.VersionMismatch);
                break;
        }
        for (int i = 0; i < 3; i++)
            Assert.Equal(m.States[i], dsm.Interfaces[i].State);
    }
}
