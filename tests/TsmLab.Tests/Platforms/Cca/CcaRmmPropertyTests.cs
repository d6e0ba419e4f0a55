using TsmLab.Hardware;
using CsCheck;
using TsmLab.Platforms.Cca.Abi;
using TsmLab.Platforms.Cca.HostDriver;
using TsmLab.Platforms.Cca.Firmware;
using TsmLab.Tdisp.Device;
using TsmLab.Tdisp.Requester;
using TsmLab.Tdisp.Wire;

namespace TsmLab.Tests.Platforms.Cca;

/// <summary>Random RMI sequences against the VDEV state machine: no exceptions, and the RMM's VDEV state always agrees with the device's TDI state.</summary>
public sealed class CcaRmmPropertyTests
{
    private enum Op { Lock, Start, Unlock, GetReport, Communicate, Abort, Destroy, Create }

    [Fact]
    public void RandomRmiSequences_KeepVdevStateAndTdiStateInStep()
    {
        Gen.Enum<Op>().Array[1, 40].Sample(ops =>
        {
            var mem = new PhysicalMemory(0x8_8000_0000);
            var dsm = DeviceSecurityManager.CreateDefault(new DeterministicEntropySource(7));
            var rmm = new CcaRmm(mem);
            var relay = new RmmRelay(rmm, mem, new TdispPciDevice(dsm).Mailbox);
            ulong prm = mem.Allocate();
            RmiStatus Call(ulong fid, out ulong x1, params ulong[] a)
            {
                Span<ulong> x = stackalloc ulong[8];
                x[0] = fid;
                a.CopyTo(x[1..]);
                rmm.Rmi(x);
                x1 = x[1];
                return (RmiStatus)x[0];
            }
            ulong pdev = mem.Allocate(), rd = mem.Allocate();
            var p = new byte[Rmi.PdevParamsHashAlgo + 1];
            BitConverter.GetBytes(0x100ul).CopyTo(p, Rmi.PdevParamsPdevId);
            BitConverter.GetBytes(0x100u).CopyTo(p, Rmi.PdevParamsRidBase);
            BitConverter.GetBytes(0x105u).CopyTo(p, Rmi.PdevParamsRidTop);
            mem.Write(prm, p);
            Assert.Equal(RmiStatus.Success, Call(Rmi.PdevCreate, out _, pdev, prm));
            RmmConnect.ToReady(rmm, mem, pdev, relay, prm, dsm);
            Call(Rmi.RealmCreate, out _, rd);
            var v = new byte[4096];
            BitConverter.GetBytes(0x18ul).CopyTo(v, Rmi.VdevParamsVdevId);
            BitConverter.GetBytes(0x100ul).CopyTo(v, Rmi.VdevParamsTdiId);
            ulong vdev = 0;
            foreach (var op in ops)
            {
                switch (op)
                {
                    case Op.Create when vdev == 0:
                        vdev = mem.Allocate();
                        mem.Write(prm, v);
                        Assert.Equal(RmiStatus.Success, Call(Rmi.VdevCreate, out _, rd, pdev, vdev, prm));
                        break;
                    case Op.Lock: Call(Rmi.VdevLock, out _, rd, pdev, vdev); break;
                    case Op.Start: Call(Rmi.VdevStart, out _, rd, pdev, vdev); break;
                    case Op.Unlock: Call(Rmi.VdevUnlock, out _, rd, pdev, vdev); break;
                    case Op.GetReport: Call(Rmi.VdevGetInterfaceReport, out _, rd, pdev, vdev); break;
                    case Op.Communicate: relay.Communicate(Rmi.VdevCommunicate, rd, pdev, vdev); break;
                    case Op.Abort: Call(Rmi.VdevAbort, out _, rd, pdev, vdev); break;
                    case Op.Destroy:
                        if (Call(Rmi.VdevDestroy, out _, rd, pdev, vdev) == RmiStatus.Success) vdev = 0;
                        break;
                }
                if (vdev == 0) { Assert.NotEqual(RmiStatus.Success, Call(Rmi.VdevGetState, out _, 1)); continue; }
                Assert.Equal(RmiStatus.Success, Call(Rmi.VdevGetState, out ulong st, vdev));
                var expected = (VdevState)st switch
                {
                    VdevState.Locked => TdiState.ConfigLocked,
                    VdevState.Started => TdiState.Run,
                    _ => TdiState.ConfigUnlocked,
                };
                Assert.Equal(expected, dsm.Interfaces[0].State);
            }
        });
    }
}
