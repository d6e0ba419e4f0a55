using TsmLab.Hardware;
using System.Buffers.Binary;
using TsmLab.Platforms.Cca.Abi;
using TsmLab.Platforms.Cca.HostDriver;
using TsmLab.Platforms.Cca.Firmware;
using TsmLab.Tdisp.Device;
using TsmLab.Tdisp.Requester;
using TsmLab.Tdisp.Wire;

namespace TsmLab.Tests.Platforms.Cca;

/// <summary>The RMM model through its SMC interface alone: RMI return codes, PDEV/VDEV states, device RTT.</summary>
public sealed class CcaRmmTests
{
    private const ulong PdevId = 0x0100;

    private sealed class Fw
    {
        public readonly PhysicalMemory Mem = new(0x8_8000_0000);
        public readonly DeviceSecurityManager Dsm = DeviceSecurityManager.CreateDefault();
        public readonly CcaRmm Rmm;
        public readonly TdispPciDevice Device;
        public readonly RmmRelay Relay;
        public readonly ulong Comm, Params;

        public Fw(RmmOptions? options = null)
        {
            Rmm = new CcaRmm(Mem, options);
            Device = new TdispPciDevice(Dsm);
            Relay = new RmmRelay(Rmm, Mem, Device.Mailbox);
            Comm = Relay.Comm;
            Params = Mem.Allocate();
        }

        /// <summary>COMMUNICATE through the host's relay loop (fid's arguments without the comm granule).</summary>
        public RmiStatus Communicate(ulong fid, params ulong[] a) => Relay.Communicate(fid, a);

        public RmiStatus Call(ulong fid, out ulong x1, params ulong[] a)
        {
            Span<ulong> x = stackalloc ulong[8];
            x[0] = fid;
            a.CopyTo(x[1..]);
            Rmm.Rmi(x);
            x1 = x[1];
            return (RmiStatus)x[0];
        }

        public RmiStatus Call(ulong fid, params ulong[] a) => Call(fid, out _, a);

        public ulong CommObject => (ulong)Relay.Cached[^1];

        public ulong Read(ulong pa)
        {
            Span<byte> b = stackalloc byte[8];
            Mem.Read(pa, b);
            return BinaryPrimitives.ReadUInt64LittleEndian(b);
        }

        public void Write(ulong pa, ulong v)
        {
            Span<byte> b = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(b, v);
            Mem.Write(pa, b);
        }

        public ulong PdevParams(ulong pdevId = PdevId, ulong hash = 0, ulong ridBase = 0x100, ulong ridTop = 0x105)
        {
            Mem.Write(Params, new byte[4096]);
            Write(Params + Rmi.PdevParamsPdevId, pdevId);
            Write(Params + Rmi.PdevParamsHashAlgo, hash);
            Write(Params + Rmi.PdevParamsRidBase, ridBase);
            Write(Params + Rmi.PdevParamsRidTop, ridTop);
            return Params;
        }

        public ulong VdevParams(ulong vdevId, ulong tdiId)
        {
            Mem.Write(Params, new byte[4096]);
            Write(Params + Rmi.VdevParamsVdevId, vdevId);
            Write(Params + Rmi.VdevParamsTdiId, tdiId);
            return Params;
        }

        /// <summary>A READY PDEV, a realm and an UNLOCKED VDEV of function 0x0100.</summary>
        public (ulong Pdev, ulong Rd, ulong Vdev) Ready()
        {
            ulong pdev = Mem.Allocate(), rd = Mem.Allocate(), vdev = Mem.Allocate();
            Assert.Equal(RmiStatus.Success, Call(Rmi.PdevCreate, pdev, PdevParams()));
            RmmConnect.ToReady(Rmm, Mem, pdev, Relay, Params, Dsm);
            Assert.Equal(RmiStatus.Success, Call(Rmi.RealmCreate, rd));
            Assert.Equal(RmiStatus.Success, Call(Rmi.VdevCreate, rd, pdev, vdev, VdevParams(0x18, 0x100)));
            Assert.Equal(RmiStatus.Success, Communicate(Rmi.VdevCommunicate, rd, pdev, vdev));
            return (pdev, rd, vdev);
        }
    }

    [Fact]
    public void PdevConnect_RelaysSpdmThenSecuredIdeKm_AndHandsOverVcaThenCertificate()
    {
        var f = new Fw();
        ulong pdev = f.Mem.Allocate();
        Assert.Equal(RmiStatus.Success, f.Call(Rmi.PdevCreate, pdev, f.PdevParams()));
        Assert.Equal(RmiStatus.Success, f.Call(Rmi.PdevGetState, out ulong state, pdev));
        Assert.Equal((ulong)PdevState.New, state);
        // One COMMUNICATE hands the host the first DOE object (GET_VERSION) to send, and nothing else moves.
        Assert.Equal(RmiStatus.Success, f.Call(Rmi.PdevCommunicate, pdev, f.Comm));
        Assert.Equal(Rmi.CommExitFlagReqSend | Rmi.CommExitFlagRspWait, f.Read(f.Comm + Rmi.CommExitFlags));
        Assert.Equal(Rmi.CommProtocolSpdm, f.Read(f.Comm + Rmi.CommExitProtocol));
        var get = new byte[12];
        f.Mem.Read(f.Relay.Request, get);
        Assert.Equal(new byte[] { 0x10, 0x84, 0, 0 }, get[8..]); // DOE header, then GET_VERSION
        f.Call(Rmi.PdevGetState, out state, pdev);
        Assert.Equal((ulong)PdevState.New, state);
        Assert.Equal(RmiStatus.Success, f.Call(Rmi.PdevAbort, pdev));
        f.Call(Rmi.PdevGetState, out state, pdev);
        Assert.Equal((ulong)PdevState.Error, state); // the connection was abandoned

        f = new Fw();
        pdev = f.Mem.Allocate();
        Assert.Equal(RmiStatus.Success, f.Call(Rmi.PdevCreate, pdev, f.PdevParams()));
        Assert.Equal(RmiStatus.Success, f.Communicate(Rmi.PdevCommunicate, pdev));
        Assert.Equal(new[] { CacheObject.Vca, CacheObject.Certificate }, f.Relay.Cached);
        Assert.Equal(f.Dsm.Identity.SpdmCertificateChain(), f.Relay.Cache[CacheObject.Certificate]);
        Assert.Equal(0x84, f.Relay.Cache[CacheObject.Vca][1]); // the VCA transcript starts with GET_VERSION
        f.Call(Rmi.PdevGetState, out state, pdev);
        Assert.Equal((ulong)PdevState.NeedsKey, state);       // [TR2]: the certificate is in, the key is not
        Assert.False(f.Dsm.IdeKeys.IsStreamReady(0));
        Assert.All(f.Relay.ObjectTypes, t => Assert.Equal(1, t)); // the handshake is in the clear
        int clear = f.Relay.ObjectTypes.Count;
        Assert.Equal(RmiStatus.Success, f.Call(Rmi.PdevSetPubkey, pdev, RmmConnect.PubkeyParams(f.Mem, f.Params, f.Dsm)));
        f.Call(Rmi.PdevGetState, out state, pdev);
        Assert.Equal((ulong)PdevState.HasKey, state);
        Assert.Equal(RmiStatus.Success, f.Communicate(Rmi.PdevCommunicate, pdev));
        f.Call(Rmi.PdevGetState, out state, pdev);
        Assert.Equal((ulong)PdevState.Ready, state);
        Assert.True(f.Dsm.IdeKeys.IsStreamReady(0));
        // KEY_EXCHANGE in the clear; FINISH, MEASUREMENTS, TDISP, IDE_KM QUERY and 6 x (KEY_PROG + K_SET_GO) secured.
        Assert.Equal(1, f.Relay.ObjectTypes[clear]);
        Assert.All(f.Relay.ObjectTypes.Skip(clear + 1), t => Assert.Equal(2, t));
        Assert.True(f.Relay.ObjectTypes.Count - clear - 1 >= 1 + 1 + 2 + 1 + 12);
    }

    [Fact]
    public void SetPubkey_WithAKeyThatIsNotTheChainsLeaf_IsErrorInput_AndTheSessionCannotStart()
    {
        var f = new Fw();
        ulong pdev = f.Mem.Allocate();
        Assert.Equal(RmiStatus.Success, f.Call(Rmi.PdevCreate, pdev, f.PdevParams()));
        Assert.Equal(RmiStatus.Success, f.Communicate(Rmi.PdevCommunicate, pdev));
        var other = DeviceSecurityManager.CreateDefault(new DeterministicEntropySource(3));
        var wrong = new DeviceIdentity(DeviceConfiguration.Default with { Identity = DeviceConfiguration.Default.Identity with { Seed = "another device" } });
        var prm = f.Params;
        Assert.True(DevicePublicKey.TryEncode(wrong.LeafCertificate, out var key, out byte algo));
        var k = new byte[4096];
        key.CopyTo(k, Rmi.PubkeyKey);
        BinaryPrimitives.WriteUInt64LittleEndian(k.AsSpan(Rmi.PubkeyKeyLen), (ulong)key.Length);
        k[Rmi.PubkeyAlgo] = algo;
        f.Mem.Write(prm, k);
        Assert.Equal(RmiStatus.ErrorInput, f.Call(Rmi.PdevSetPubkey, pdev, prm));
        f.Call(Rmi.PdevGetState, out ulong state, pdev);
        Assert.Equal((ulong)PdevState.NeedsKey, state);
        Assert.False(f.Dsm.IdeKeys.IsStreamReady(0));
        _ = other;
    }

    [Fact]
    public void PdevCreate_RefusesBadInput_WithErrorInput()
    {
        var f = new Fw();
        ulong pdev = f.Mem.Allocate();
        Assert.Equal(RmiStatus.ErrorInput, f.Call(Rmi.PdevCreate, pdev, f.PdevParams(hash: 3)));
        Assert.Equal(RmiStatus.ErrorInput, f.Call(Rmi.PdevCreate, pdev, f.PdevParams(ridBase: 0x101)));
        Assert.Equal(RmiStatus.ErrorInput, f.Call(Rmi.PdevCreate, pdev, 0x1234_5000));
        Assert.Equal(RmiStatus.ErrorInput, f.Call(Rmi.PdevCreate, 0x1234_5000, f.PdevParams()));
        Assert.Equal(RmiStatus.Success, f.Call(Rmi.PdevCreate, pdev, f.PdevParams()));
        Assert.Equal(RmiStatus.ErrorInput, f.Call(Rmi.PdevCreate, pdev, f.PdevParams()));
    }

    [Fact]
    public void PdevConnect_WhenIdeKeyProgrammingFails_IsErrorDevice_AndThePdevIsInError()
    {
        var f = new Fw(new RmmOptions { IdeStreamId = 9 });
        ulong pdev = f.Mem.Allocate();
        Assert.Equal(RmiStatus.Success, f.Call(Rmi.PdevCreate, pdev, f.PdevParams()));
        Assert.Equal(RmiStatus.Success, f.Communicate(Rmi.PdevCommunicate, pdev));
        Assert.Equal(RmiStatus.Success, f.Call(Rmi.PdevSetPubkey, pdev, RmmConnect.PubkeyParams(f.Mem, f.Params, f.Dsm)));
        Assert.Equal(RmiStatus.ErrorDevice, f.Communicate(Rmi.PdevCommunicate, pdev));
        f.Call(Rmi.PdevGetState, out ulong state, pdev);
        Assert.Equal((ulong)PdevState.Error, state);
        Assert.Equal(RmiStatus.ErrorDevice, f.Call(Rmi.PdevDestroy, pdev)); // [TR2]: only a STOPPED PDEV is destroyed
    }

    [Fact]
    public void VdevCreate_RefusesUnknownRealmPdevNotReadyForeignFunctionAndDuplicates()
    {
        var f = new Fw();
        var (pdev, rd, _) = f.Ready();
        ulong v2 = f.Mem.Allocate();
        Assert.Equal(RmiStatus.ErrorRealm, f.Call(Rmi.VdevCreate, f.Mem.Allocate(), pdev, v2, f.VdevParams(0x20, 0x101)));
        Assert.Equal(RmiStatus.ErrorInput, f.Call(Rmi.VdevCreate, rd, f.Mem.Allocate(), v2, f.VdevParams(0x20, 0x101)));
        Assert.Equal(RmiStatus.ErrorInput, f.Call(Rmi.VdevCreate, rd, pdev, v2, f.VdevParams(0x20, 0x105)));
        Assert.Equal(RmiStatus.ErrorInput, f.Call(Rmi.VdevCreate, rd, pdev, v2, f.VdevParams(0x18, 0x101)));
        Assert.Equal(RmiStatus.ErrorInput, f.Call(Rmi.VdevCreate, rd, pdev, v2, f.VdevParams(0x20, 0x100)));
        Assert.Equal(RmiStatus.Success, f.Call(Rmi.VdevCreate, rd, pdev, v2, f.VdevParams(0x20, 0x101)));
    }

    [Fact]
    public void VdevLifecycle_StatesOnlyMoveThroughCommunicate_AndEveryWrongStateIsErrorInput()
    {
        var f = new Fw();
        var (pdev, rd, vdev) = f.Ready();
        var tdi = f.Dsm.Interfaces[0];
        f.Call(Rmi.VdevGetState, out ulong s, vdev);
        Assert.Equal((ulong)VdevState.Unlocked, s);
        Assert.Equal(RmiStatus.ErrorInput, f.Call(Rmi.VdevStart, rd, pdev, vdev));
        Assert.Equal(RmiStatus.ErrorInput, f.Call(Rmi.VdevGetInterfaceReport, rd, pdev, vdev));
        Assert.Equal(RmiStatus.Success, f.Call(Rmi.VdevLock, rd, pdev, vdev));
        Assert.Equal(RmiStatus.Busy, f.Call(Rmi.VdevLock, rd, pdev, vdev));
        Assert.Equal(TdiState.ConfigUnlocked, tdi.State);
        Assert.Equal(RmiStatus.Success, f.Communicate(Rmi.VdevCommunicate, rd, pdev, vdev));
        Assert.Equal((ulong)CacheObject.InterfaceReport, f.CommObject);
        Assert.Equal(TdiState.ConfigLocked, tdi.State);
        f.Call(Rmi.VdevGetState, out s, vdev);
        Assert.Equal((ulong)VdevState.Locked, s);
        Assert.Equal(RmiStatus.ErrorInput, f.Call(Rmi.VdevLock, rd, pdev, vdev));
        Assert.Equal(RmiStatus.ErrorInput, f.Call(Rmi.VdevDestroy, rd, pdev, vdev));
        Assert.Equal(RmiStatus.ErrorDevice, f.Call(Rmi.PdevStop, pdev)); // a VDEV still exists [TR2]
        Assert.Equal(RmiStatus.Success, f.Call(Rmi.VdevStart, rd, pdev, vdev));
        Assert.Equal(RmiStatus.Success, f.Communicate(Rmi.VdevCommunicate, rd, pdev, vdev));
        Assert.Equal(TdiState.Run, tdi.State);
        Assert.Equal(RmiStatus.Success, f.Call(Rmi.VdevUnlock, rd, pdev, vdev));
        Assert.Equal(RmiStatus.Success, f.Communicate(Rmi.VdevCommunicate, rd, pdev, vdev));
        Assert.Equal(TdiState.ConfigUnlocked, tdi.State);
        Assert.Equal(RmiStatus.Success, f.Call(Rmi.VdevDestroy, rd, pdev, vdev));
        Assert.Equal(RmiStatus.ErrorInput, f.Call(Rmi.VdevGetState, vdev));
        Assert.Equal(RmiStatus.ErrorDevice, f.Call(Rmi.PdevDestroy, pdev)); // READY, not STOPPED
        Assert.Single(f.Device.Spdm.Sessions);
        Assert.Equal(RmiStatus.Success, f.Call(Rmi.PdevStop, pdev));
        Assert.Equal(RmiStatus.ErrorDevice, f.Call(Rmi.PdevDestroy, pdev)); // the stop completes at the next COMMUNICATE
        Assert.Equal(RmiStatus.Success, f.Communicate(Rmi.PdevCommunicate, pdev));
        Assert.Empty(f.Device.Spdm.Sessions); // K_SET_STOP, then END_SESSION
        f.Call(Rmi.PdevGetState, out s, pdev);
        Assert.Equal((ulong)PdevState.Stopped, s);
        Assert.False(f.Dsm.IdeKeys.IsStreamReady(0));
        Assert.Equal(RmiStatus.Success, f.Call(Rmi.PdevDestroy, pdev));
    }

    [Fact]
    public void VdevStart_WhenTheHostTampersWithTheSecuredRequest_IsErrorDevice_AndTheVdevStaysLocked()
    {
        var f = new Fw();
        var (pdev, rd, vdev) = f.Ready();
        f.Call(Rmi.VdevLock, rd, pdev, vdev);
        f.Communicate(Rmi.VdevCommunicate, rd, pdev, vdev);
        f.Relay.TamperNextSecured = 0xFF; // the host flips a ciphertext byte of the START request
        Assert.Equal(RmiStatus.Success, f.Call(Rmi.VdevStart, rd, pdev, vdev));
        Assert.Equal(RmiStatus.ErrorDevice, f.Communicate(Rmi.VdevCommunicate, rd, pdev, vdev));
        f.Call(Rmi.VdevGetState, out ulong s, vdev);
        Assert.Equal((ulong)VdevState.Locked, s);
        Assert.Equal(TdiState.ConfigLocked, f.Dsm.Interfaces[0].State);
    }

    [Fact]
    public void VdevCommunicate_WhileAnotherVdevsOperationWaitsOnTheHost_IsBusy_AndAbandoningItDesynchronisesTheSession()
    {
        var f = new Fw();
        var (pdev, rd, v1) = f.Ready();
        ulong v2 = f.Mem.Allocate();
        Assert.Equal(RmiStatus.Success, f.Call(Rmi.VdevCreate, rd, pdev, v2, f.VdevParams(0x20, 0x101)));
        Assert.Equal(RmiStatus.Success, f.Call(Rmi.VdevLock, rd, pdev, v1));
        Assert.Equal(RmiStatus.Success, f.Call(Rmi.VdevCommunicate, rd, pdev, v1, f.Comm)); // LOCK's first object is out with the host
        Assert.Equal(Rmi.CommExitFlagReqSend | Rmi.CommExitFlagRspWait, f.Read(f.Comm + Rmi.CommExitFlags));
        Assert.Equal(RmiStatus.Busy, f.Call(Rmi.VdevCommunicate, rd, pdev, v2, f.Comm));
        Assert.Equal(RmiStatus.Busy, f.Call(Rmi.PdevCommunicate, pdev, f.Comm));
        // The host abandons it: the conversation is free again and the first VDEV did not lock. The secured
        // message that was never delivered leaves the session's sequence numbers out of step (DSP0277 has no
        // resynchronisation), so the next operation fails and the device's TDI is untouched.
        Assert.Equal(RmiStatus.Success, f.Call(Rmi.VdevAbort, rd, pdev, v1));
        f.Call(Rmi.VdevGetState, out ulong s, v1);
        Assert.Equal((ulong)VdevState.Unlocked, s);
        Assert.Equal(RmiStatus.ErrorDevice, f.Communicate(Rmi.VdevCommunicate, rd, pdev, v2));
        Assert.Equal(TdiState.ConfigUnlocked, f.Dsm.Interfaces[0].State);
    }

    [Fact]
    public void VdevAbort_DropsAPendingOperation_ElseErrorInput()
    {
        var f = new Fw();
        var (pdev, rd, vdev) = f.Ready();
        Assert.Equal(RmiStatus.ErrorInput, f.Call(Rmi.VdevAbort, rd, pdev, vdev));
        f.Call(Rmi.VdevLock, rd, pdev, vdev);
        Assert.Equal(RmiStatus.Success, f.Call(Rmi.VdevAbort, rd, pdev, vdev));
        Assert.Equal(RmiStatus.Success, f.Communicate(Rmi.VdevCommunicate, rd, pdev, vdev));
        Assert.Equal(TdiState.ConfigUnlocked, f.Dsm.Interfaces[0].State);
    }

    [Fact]
    public void VdevGetMeasurements_FlagsAboveRaw_IsErrorInput_ElseTheTranscriptCarriesTheNonce()
    {
        var f = new Fw();
        var (pdev, rd, vdev) = f.Ready();
        ulong prm = f.Mem.Allocate();
        f.Write(prm, 2);
        Assert.Equal(RmiStatus.ErrorInput, f.Call(Rmi.VdevGetMeasurements, rd, pdev, vdev, prm));
        f.Write(prm, 1);
        f.Write(prm + Rmi.MeasParamsNonce, 0x1122334455667788);
        Assert.Equal(RmiStatus.Success, f.Call(Rmi.VdevGetMeasurements, rd, pdev, vdev, prm));
        Assert.Equal(RmiStatus.Success, f.Communicate(Rmi.VdevCommunicate, rd, pdev, vdev));
        Assert.Equal((ulong)CacheObject.Measurements, f.CommObject);
        var m = f.Relay.Cache[CacheObject.Measurements]; // GET_MEASUREMENTS (with the realm's nonce) then MEASUREMENTS
        Assert.Equal(0xE0, m[1]);
        Assert.Equal(0x1122334455667788ul, BinaryPrimitives.ReadUInt64LittleEndian(m.AsSpan(4)));
    }

    [Fact]
    public void DeviceRtt_MapNeedsALockedVdevsTeePage_UnmapAndValidateCheckTheirEntries()
    {
        var f = new Fw();
        var (pdev, rd, vdev) = f.Ready();
        const ulong ipa = 0x1_0000_0000, single = Rmi.AddrTypeSingle;
        ulong Desc(ulong pa, ulong n = 1) => Rmi.AddrRangeDesc(pa, n);
        // RMI_RTT_DEV_MAP(rd, vdev, base, top, flags, oaddr) [TR1]
        Assert.Equal(RmiStatus.ErrorInput, f.Call(Rmi.RttDevMap, rd, vdev, ipa, ipa + 0x1000, single, Desc(0xf000_0000))); // not locked yet
        f.Call(Rmi.VdevLock, rd, pdev, vdev);
        f.Communicate(Rmi.VdevCommunicate, rd, pdev, vdev);
        Assert.Equal(RmiStatus.ErrorInput, f.Call(Rmi.RttDevMap, f.Mem.Allocate(), vdev, ipa, ipa + 0x1000, single, Desc(0xf000_0000))); // unknown RD
        Assert.Equal(RmiStatus.ErrorInput, f.Call(Rmi.RttDevMap, rd, vdev, ipa, ipa + 0x1000, Rmi.AddrTypeList, Desc(0xf000_0000)));
        Assert.Equal(RmiStatus.ErrorInput, f.Call(Rmi.RttDevMap, rd, vdev, ipa, ipa + 0x1000, single, Rmi.AddrRangeDesc(0xf000_0000, 1, sz: 1))); // 2 MiB blocks
        Assert.Equal(RmiStatus.ErrorInput, f.Call(Rmi.RttDevMap, rd, vdev, ipa + 8, ipa + 0x1000, single, Desc(0xf000_0000)));
        Assert.Equal(RmiStatus.ErrorInput, f.Call(Rmi.RttDevMap, rd, vdev, 1UL << 47, (1UL << 47) + 0x1000, single, Desc(0xf000_0000))); // outside the PAR
        Assert.Equal(RmiStatus.ErrorInput, f.Call(Rmi.RttDevMap, rd, vdev, ipa, ipa + 0x1000, single, Desc(0xf000_2000))); // MSI-X table: not TEE memory
        Assert.Equal(RmiStatus.ErrorInput, f.Call(Rmi.RttDevMap, rd, vdev, ipa, ipa + 0x3000, single, Desc(0xf000_0000, 3))); // runs into it: nothing mapped
        Assert.Equal(RmiStatus.Success, f.Call(Rmi.RttDevMap, out ulong top, rd, vdev, ipa, ipa + 0x2000, single, Desc(0xf000_0000, 2)));
        Assert.Equal(ipa + 0x2000, top);
        Assert.Equal(RmiStatus.ErrorRtt, f.Call(Rmi.RttDevMap, rd, vdev, ipa + 0x1000, ipa + 0x2000, single, Desc(0xf000_1000)));
        // RMI_RTT_DEV_UNMAP(rd, base, top, flags, oaddr) -> x1 top, x2 the PA range (RmiAddrRangeDesc4KB), x3 0
        Span<ulong> x = [Rmi.RttDevUnmap, rd, ipa, ipa + 0x2000, single, 0, 0, 0];
        f.Rmm.Rmi(x);
        Assert.Equal((ulong)RmiStatus.Success, x[0]);
        Assert.Equal(ipa + 0x2000, x[1]);
        Assert.Equal((0xf000_0000ul, 2ul, 0ul), Rmi.ReadAddrRangeDesc(x[2]));
        Assert.Equal(0ul, x[3]);
        Assert.Equal(RmiStatus.ErrorRtt, f.Call(Rmi.RttDevUnmap, rd, ipa, ipa + 0x1000, single, 0));
        Assert.Equal(RmiStatus.ErrorRec, f.Call(Rmi.RttDevValidate, rd, f.Mem.Allocate(), ipa, ipa + 0x1000));
    }

    [Fact]
    public void RealmAndRecCalls_AndUnknownFids()
    {
        var f = new Fw();
        ulong rd = f.Mem.Allocate(), rec = f.Mem.Allocate(), run = f.Mem.Allocate();
        ulong prm = f.Mem.Allocate();
        Assert.Equal(RmiStatus.ErrorRealm, f.Call(Rmi.RecCreate, rd, rec, prm)); // (rd, rec, params) [TR1]
        Assert.Equal(RmiStatus.Success, f.Call(Rmi.RealmCreate, rd));
        Assert.Equal(RmiStatus.ErrorInput, f.Call(Rmi.RealmCreate, rd));
        Assert.Equal(RmiStatus.ErrorInput, f.Call(Rmi.RecCreate, rd, rec, 0x1234_5000));
        Assert.Equal(RmiStatus.Success, f.Call(Rmi.RecCreate, rd, rec, prm));
        Assert.Equal(RmiStatus.ErrorRec, f.Call(Rmi.RecEnter, rec, run));
        Assert.Equal(RmiStatus.ErrorNotSupported, f.Call(0xC40001FF));
        Assert.False(f.Rmm.AttachRealmMemory(f.Mem.Allocate(), null!));
    }
}
