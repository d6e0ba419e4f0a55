using TsmLab.Tdisp.Device;
using TsmLab.Tdisp.Wire;
using static TsmLab.Tests.Tdisp.TdispTestKit;

namespace TsmLab.Tests.Tdisp;

/// <summary>
/// Every (request, state) cell of §5.6, every TDISP_ERROR path with state unchanged, the
/// ERROR-state events, the STOP/IDE options and report portions at every boundary.
/// </summary>
public class TdispStateMachineTests
{
    public static TheoryData<byte, TdiState, byte?, TdiState> Cells()
    {
        // (request, state) -> expected response code (null = TDISP_ERROR INVALID_INTERFACE_STATE) and state after.
        var U = TdiState.ConfigUnlocked; var L = TdiState.ConfigLocked; var R = TdiState.Run; var E = TdiState.Error;
        var d = new TheoryData<byte, TdiState, byte?, TdiState>();
        foreach (var s in new[] { U, L, R, E })
        {
            d.Add(0x81, s, 0x01, s);
            d.Add(0x82, s, 0x02, s);
            d.Add(0x85, s, 0x05, s);
            d.Add(0x87, s, 0x07, U);
            d.Add(0x8B, s, 0x0B, s);
        }
        d.Add(0x83, U, 0x03, L); d.Add(0x83, L, null, L); d.Add(0x83, R, null, R); d.Add(0x83, E, null, E);
        d.Add(0x84, U, null, U); d.Add(0x84, L, 0x04, L); d.Add(0x84, R, 0x04, R); d.Add(0x84, E, null, E);
        d.Add(0x86, U, null, U); d.Add(0x86, L, 0x06, R); d.Add(0x86, R, null, R); d.Add(0x86, E, null, E);
        d.Add(0x88, U, null, U); d.Add(0x88, L, null, L); d.Add(0x88, R, 0x08, R); d.Add(0x88, E, null, E);
        d.Add(0x89, U, null, U); d.Add(0x89, L, null, L); d.Add(0x89, R, 0x09, R); d.Add(0x89, E, null, E);
        d.Add(0x8A, U, null, U); d.Add(0x8A, L, null, L); d.Add(0x8A, R, 0x0A, R); d.Add(0x8A, E, null, E);
        return d;
    }

    private static byte[] RequestFor(byte code, byte[] nonce) => code switch
    {
        0x82 => Msg(code, "00000000"),
        0x83 => LockMessage(flags: 0x000C),
        0x84 => Msg(code, "0000 ffff"),
        0x86 => Msg(code, ToHex(nonce.Length == 32 ? nonce : new byte[32])),
        0x88 => Msg(code, "05 00"),
        0x89 => Msg(code, "05"),
        0x8A => Msg(code, "0000000040000000 00100000 0c00 0200"),
        0x8B => Msg(code, "00 02 0100"),
        _ => Msg(code),
    };

    [Theory]
    [MemberData(nameof(Cells))]
    public void EveryRequestInEveryState_FollowsTheStateTable(byte code, TdiState state, byte? expectedResponse, TdiState after)
    {
        var dsm = NewDevice();
        var nonce = DriveTo(dsm, state, flags: 0x000C); // LOCK_MSIX | BIND_P2P
        var tdi = dsm.Interfaces[0];
        if (code == 0x89 && state == TdiState.Run)
            Send(dsm, Msg(0x88, "05 00")); // a stream to unbind
        if (code == 0x83 && state == TdiState.ConfigUnlocked)
            ProgramKeys(dsm);
        var rsp = Send(dsm, RequestFor(code, nonce));
        if (expectedResponse is byte r)
            Assert.Equal(r, rsp[1]);
        else
            AssertError(rsp, TdispErrorCode.InvalidInterfaceState);
        Assert.Equal(after, tdi.State);
    }

    [Fact]
    public void Stop_InUnlocked_WithRejectPolicy_IsInvalidInterfaceState()
    {
        var dsm = NewDevice();
        dsm.StopInUnlockedPolicy = StopInUnlockedPolicy.RejectInvalidInterfaceState;
        AssertError(Send(dsm, Msg(0x87)), TdispErrorCode.InvalidInterfaceState);
        Assert.Equal(TdiState.ConfigUnlocked, dsm.Interfaces[0].State);
        DriveTo(dsm, TdiState.Run);
        Assert.Equal(0x07, Send(dsm, Msg(0x87))[1]); // the policy only concerns UNLOCKED
    }

    [Fact]
    public void Start_WithWrongNonce_IsInvalidNonce_AndStaysLocked()
    {
        var dsm = NewDevice();
        var nonce = DriveTo(dsm, TdiState.ConfigLocked);
        nonce[31] ^= 1;
        AssertError(Send(dsm, Msg(0x86, ToHex(nonce))), TdispErrorCode.InvalidNonce);
        Assert.Equal(TdiState.ConfigLocked, dsm.Interfaces[0].State);
        nonce[31] ^= 1;
        Assert.Equal(0x06, Send(dsm, Msg(0x86, ToHex(nonce)))[1]);
    }

    [Fact]
    public void Start_AfterStopAndRelock_RejectsTheOldNonce()
    {
        var dsm = NewDevice();
        var old = DriveTo(dsm, TdiState.ConfigLocked);
        Send(dsm, Msg(0x87));
        var fresh = LockInterfaceResponse.TryRead(Send(dsm, LockMessage()), out var l) ? l.StartInterfaceNonce.ToArray() : [];
        Assert.NotEqual(old, fresh);
        AssertError(Send(dsm, Msg(0x86, ToHex(old))), TdispErrorCode.InvalidNonce);
    }

    [Fact]
    public void Lock_WithoutIdeKeys_IsInvalidRequest_AndStaysUnlocked()
    {
        var dsm = NewDevice();
        AssertError(Send(dsm, LockMessage()), TdispErrorCode.InvalidRequest);
        Assert.Equal(TdiState.ConfigUnlocked, dsm.Interfaces[0].State);
        // Programmed but not started is still not enough.
        var req = Requester(dsm);
        var slot = IdeKeySubStream.Create(0, IdeKeyDirection.Receive, IdeSubStream.PostedRequest);
        Assert.True(req.ProgramKey(0, slot, 0, new byte[32], new byte[8]).IsSuccess);
        AssertError(Send(dsm, LockMessage()), TdispErrorCode.InvalidRequest);
        Assert.Equal(TdiState.ConfigUnlocked, dsm.Interfaces[0].State);
    }

    [Fact]
    public void Lock_WithIdeRequirementOff_SucceedsWithoutKeys()
    {
        var dsm = NewDevice();
        dsm.RequireIdeKeysForLock = false;
        Assert.Equal(0x03, Send(dsm, LockMessage())[1]);
    }

    [Fact]
    public void Lock_AfterKeySetStop_IsInvalidRequest()
    {
        var dsm = NewDevice();
        ProgramKeys(dsm);
        Requester(dsm).KeySetStop(0, IdeKeySubStream.Create(0, IdeKeyDirection.Transmit, IdeSubStream.Completion), 0);
        AssertError(Send(dsm, LockMessage()), TdispErrorCode.InvalidRequest);
    }

    [Theory]
    [InlineData(0x0020, 0, 0UL)]          // flag bit 5 is not supported
    [InlineData(0x0004, 9, 0UL)]          // stream 9 is not one of the device's IDE streams
    [InlineData(0x0004, 0, 0x800UL)]      // reporting offset not 4 KiB aligned
    [InlineData(0x0004, 0, 0xFFFF_FFFF_0000_0000UL)] // BAR + offset overflows 64 bits
    public void Lock_WithBadParameters_IsInvalidRequest_AndStaysUnlocked(ushort flags, byte stream, ulong offset)
    {
        var dsm = NewDevice();
        ProgramKeys(dsm);
        AssertError(Send(dsm, LockMessage(flags, stream, offset)), TdispErrorCode.InvalidRequest);
        Assert.Equal(TdiState.ConfigUnlocked, dsm.Interfaces[0].State);
        Assert.Equal(0, dsm.Interfaces[0].ReportLength);
    }

    [Fact]
    public void Lock_WithUnsupportedFlagOnRestrictedDevice_IsInvalidRequest()
    {
        var cfg = DeviceConfiguration.Default with { Tdisp = DeviceConfiguration.Default.Tdisp with { LockFlagsSupported = LockInterfaceFlags.LockMsix } };
        var dsm = NewDevice(cfg);
        ProgramKeys(dsm);
        AssertError(Send(dsm, LockMessage(0x0001)), TdispErrorCode.InvalidRequest);
        Assert.Equal(0x03, Send(dsm, LockMessage(0x0004))[1]);
    }

    [Fact]
    public void Lock_WhenEntropyFails_IsInsufficientEntropy_AndStaysUnlocked()
    {
        var entropy = new FailingEntropySource();
        var dsm = NewDevice(entropy: entropy);
        ProgramKeys(dsm);
        AssertError(Send(dsm, LockMessage()), TdispErrorCode.InsufficientEntropy);
        Assert.Equal(TdiState.ConfigUnlocked, dsm.Interfaces[0].State);
        entropy.Fail = false;
        Assert.Equal(0x03, Send(dsm, LockMessage())[1]);
    }

    [Theory]
    [InlineData(0x11)]
    [InlineData(0x00)]
    public void AnyVersionButTdisp10_IsVersionMismatch(byte version)
    {
        var dsm = NewDevice();
        var rsp = Send(dsm, Msg(0x81, version: version));
        AssertError(rsp, TdispErrorCode.VersionMismatch);
        Assert.Equal(0x10, rsp[0]);
    }

    [Theory]
    [InlineData(0x90)]
    [InlineData(0x01)]
    [InlineData(0x8C)] // SET_TDISP_CONFIG: defined, but not in the default device's bitmap
    public void UnknownOrUnsupportedCode_IsUnsupportedRequest_WithTheCodeInErrorData(byte code)
    {
        var dsm = NewDevice();
        AssertError(Send(dsm, Msg(code, "00000000")), TdispErrorCode.UnsupportedRequest, code);
    }

    [Fact]
    public void CodeDroppedFromTheBitmap_IsUnsupportedRequest_EvenInTheRightState()
    {
        var caps = DeviceConfiguration.Default.Tdisp;
        var cfg = DeviceConfiguration.Default with { Tdisp = caps with { RequestsSupported = caps.RequestsSupported & ~TdispCapabilities.RequestBit(0x88) } };
        var dsm = NewDevice(cfg);
        DriveTo(dsm, TdiState.Run, flags: 0x000C);
        AssertError(Send(dsm, Msg(0x88, "05 00")), TdispErrorCode.UnsupportedRequest, 0x88);
        Assert.Equal(TdiState.Run, dsm.Interfaces[0].State);
    }

    [Theory]
    [InlineData(0x0000_0200u)]   // no such RID
    [InlineData(0x0100_0100u)]   // segment-valid, segment 0: names the PF (control case)
    [InlineData(0x0107_0100u)]   // segment 7 valid, device is in segment 0
    [InlineData(0x0007_0100u)]   // segment bits set without the valid bit
    [InlineData(0x0200_0100u)]   // reserved bit 25
    public void FunctionTheDsmDoesNotServe_IsInvalidInterface(uint functionId)
    {
        var dsm = NewDevice();
        var rsp = Send(dsm, Msg(0x85, functionId: functionId));
        if (functionId == 0x0100_0100u)
        {
            Assert.Equal(0x05, rsp[1]); // segment 0 marked valid names the PF
            return;
        }
        AssertError(rsp, TdispErrorCode.InvalidInterface);
        Assert.Equal(functionId, BitConverter.ToUInt32(rsp, 4)); // the requester's function_id is copied
    }

    [Fact]
    public void Responses_CopyTheRequestersFunctionId_ForVfs()
    {
        var dsm = NewDevice();
        var rsp = Send(dsm, Msg(0x85, functionId: 0x0104));
        Assert.Equal(0x0104u, BitConverter.ToUInt32(rsp, 4));
        Assert.Equal(0, rsp[16]);
        AssertError(Send(dsm, Msg(0x85, functionId: 0x0105)), TdispErrorCode.InvalidInterface);
    }

    [Theory]
    [InlineData(0x81, "00")]             // 17 bytes
    [InlineData(0x82, "")]               // 16 instead of 20
    [InlineData(0x83, "0000")]           // 18 instead of 36
    [InlineData(0x84, "000010")]         // 19 instead of 20
    [InlineData(0x85, "00")]
    [InlineData(0x86, "00")]
    [InlineData(0x87, "00")]
    [InlineData(0x8B, "00")]             // VDM below its 18-byte minimum
    public void WrongLength_IsInvalidRequest_AndStateUnchanged(byte code, string payload)
    {
        var dsm = NewDevice();
        AssertError(Send(dsm, Msg(code, payload)), TdispErrorCode.InvalidRequest);
        Assert.Equal(TdiState.ConfigUnlocked, dsm.Interfaces[0].State);
    }

    [Fact]
    public void MessageShorterThanTheHeader_IsInvalidRequest()
    {
        var dsm = NewDevice();
        var rsp = Send(dsm, Hex("1081000000010000"));
        AssertError(rsp, TdispErrorCode.InvalidRequest);
        Assert.Equal(0x0100u, BitConverter.ToUInt32(rsp, 4));
        AssertError(Send(dsm, []), TdispErrorCode.InvalidRequest);
    }

    [Fact]
    public void WrongLengthInLockedState_IsInvalidRequest_AndStaysLocked()
    {
        var dsm = NewDevice();
        DriveTo(dsm, TdiState.ConfigLocked);
        AssertError(Send(dsm, Msg(0x86, "00")), TdispErrorCode.InvalidRequest);
        Assert.Equal(TdiState.ConfigLocked, dsm.Interfaces[0].State);
    }

    // ---- report portions [E2] ----

    private static (byte[] Portion, ushort Remainder) Portion(DeviceSecurityManager dsm, int offset, int length)
    {
        var rsp = Send(dsm, Msg(0x84, $"{offset & 0xFF:x2}{offset >> 8:x2}{length & 0xFF:x2}{length >> 8:x2}"));
        Assert.True(DeviceInterfaceReportResponse.TryRead(rsp, out var p), ToHex(rsp));
        return (p.Portion.ToArray(), p.RemainderLength);
    }

    [Fact]
    public void ReportPortions_AtEveryBoundary()
    {
        var dsm = NewDevice(DeviceConfiguration.Default with { Tdisp = DeviceConfiguration.Default.Tdisp with { MaxReportPortion = 40 } });
        DriveTo(dsm, TdiState.ConfigLocked);
        var report = dsm.Interfaces[0].Report.ToArray();
        Assert.Equal(106, report.Length);

        var (p, r) = Portion(dsm, 0, 10);                       // offset 0
        Assert.Equal(report[..10], p);
        Assert.Equal(96, r);
        (p, r) = Portion(dsm, 0, 0xFFFF);                       // clipped to the max portion
        Assert.Equal(report[..40], p);
        Assert.Equal(66, r);
        (p, r) = Portion(dsm, 100, 40);                         // clipped to what is left
        Assert.Equal(report[100..], p);
        Assert.Equal(0, r);
        (p, r) = Portion(dsm, 105, 1);                          // the last byte
        Assert.Equal(report[105..], p);
        Assert.Equal(0, r);
        (p, r) = Portion(dsm, 40, 30);                          // remainder = size - (offset + portion)
        Assert.Equal(report[40..70], p);
        Assert.Equal(36, r);
        AssertError(Send(dsm, Msg(0x84, "6a00 0100")), TdispErrorCode.InvalidRequest); // offset == size
        AssertError(Send(dsm, Msg(0x84, "ff00 0100")), TdispErrorCode.InvalidRequest); // offset > size
        AssertError(Send(dsm, Msg(0x84, "0000 0000")), TdispErrorCode.InvalidRequest); // length 0
        Assert.Equal(TdiState.ConfigLocked, dsm.Interfaces[0].State);
    }

    // ---- ERROR-state events ----

    [Theory]
    [InlineData(TdiState.ConfigLocked)]
    [InlineData(TdiState.Run)]
    public void DeviceEvents_WhileLockedOrRun_EnterError_AndOnlyStopLeaves(TdiState state)
    {
        foreach (var (cause, act) in new (TdiStateChangeCause, Action<Tdi>)[]
        {
            (TdiStateChangeCause.ConfigWrite, t => Assert.True(t.ConfigWrite(0x10, 4))),
            (TdiStateChangeCause.ConfigWrite, t => Assert.True(t.ConfigWrite(0x04, 2))),
            (TdiStateChangeCause.BarChange, t => t.ChangeBar(2, 0x50_0000_0000)),
            (TdiStateChangeCause.FunctionLevelReset, t => t.FunctionLevelReset()),
        })
        {
            var dsm = NewDevice();
            var nonce = DriveTo(dsm, state);
            var changes = new List<TdiStateChange>();
            dsm.StateChanged = changes.Add;
            var tdi = dsm.Interfaces[0];
            act(tdi);
            Assert.Equal(TdiState.Error, tdi.State);
            Assert.Contains(new TdiStateChange(Pf, state, TdiState.Error, cause), changes);
            AssertError(Send(dsm, LockMessage()), TdispErrorCode.InvalidInterfaceState);
            AssertError(Send(dsm, Msg(0x86, ToHex(nonce))), TdispErrorCode.InvalidInterfaceState);
            AssertError(Send(dsm, Msg(0x84, "0000 1000")), TdispErrorCode.InvalidInterfaceState);
            Assert.Equal(TdiState.Error, tdi.State);
            Assert.Equal(0x03, Send(dsm, Msg(0x85))[16]);
            Assert.Equal(0x07, Send(dsm, Msg(0x87))[1]);
            Assert.Equal(TdiState.ConfigUnlocked, tdi.State);
        }
    }

    [Fact]
    public void HarmlessConfigWrite_AndEventsWhileUnlocked_DoNotEnterError()
    {
        var dsm = NewDevice();
        var tdi = dsm.Interfaces[0];
        tdi.ChangeBar(0, 0xE000_0000);
        tdi.FunctionLevelReset();
        Assert.False(tdi.ConfigWrite(0x10, 4));
        Assert.Equal(TdiState.ConfigUnlocked, tdi.State);
        DriveTo(dsm, TdiState.Run);
        Assert.False(tdi.ConfigWrite(0x06, 2));   // status register
        Assert.False(tdi.ConfigWrite(0x40, 4));   // device-specific space
        Assert.Equal(TdiState.Run, tdi.State);
        Assert.Equal(0xE000_0000UL, dsm.Interfaces[0].GetBarAddress(0));
        Assert.Equal("000000e000000000", ToHex(tdi.Report.Slice(16, 8))); // the moved BAR is what got locked
    }

    [Fact]
    public void MsixControlWrite_EntersError_OnlyWithLockMsix()
    {
        var dsm = NewDevice();
        DriveTo(dsm, TdiState.Run, flags: 0x0000);
        Assert.False(dsm.Interfaces[0].ConfigWrite(0xB2, 2));
        var dsm2 = NewDevice();
        DriveTo(dsm2, TdiState.Run, flags: 0x0004);
        Assert.True(dsm2.Interfaces[0].ConfigWrite(0xB2, 2));
    }

    [Fact]
    public void PfReset_SendsLockedVfsToError_ButVfResetLeavesThePf()
    {
        var dsm = NewDevice();
        DriveTo(dsm, TdiState.Run, Vf0);
        var vf1 = dsm.FindInterface(TdiFunctionId.FromRid(0x0102))!;
        DriveTo(dsm, TdiState.ConfigLocked, vf1.FunctionId);
        DriveTo(dsm, TdiState.Run, Pf);
        dsm.FindInterface(Vf0)!.FunctionLevelReset();
        Assert.Equal(TdiState.Run, dsm.Interfaces[0].State);
        Assert.Equal(TdiState.ConfigLocked, vf1.State);
        dsm.Interfaces[0].FunctionLevelReset();
        Assert.Equal(TdiState.Error, dsm.Interfaces[0].State);
        Assert.Equal(TdiState.Error, vf1.State);
        Assert.Equal(TdiState.ConfigUnlocked, dsm.FindInterface(TdiFunctionId.FromRid(0x0103))!.State);
    }

    // ---- P2P, MMIO attributes, VDM, SET_TDISP_CONFIG ----

    [Fact]
    public void P2p_NeedsBindP2pLockFlag_UniqueStreams_AndBoundStreamsToUnbind()
    {
        var dsm = NewDevice();
        DriveTo(dsm, TdiState.Run, flags: 0x0004);
        AssertError(Send(dsm, Msg(0x88, "05 00")), TdispErrorCode.InvalidRequest);
        var dsm2 = NewDevice();
        DriveTo(dsm2, TdiState.Run, flags: 0x000C);
        AssertError(Send(dsm2, Msg(0x89, "05")), TdispErrorCode.InvalidRequest);
        Assert.Equal(0x08, Send(dsm2, Msg(0x88, "05 00"))[1]);
        AssertError(Send(dsm2, Msg(0x88, "05 00")), TdispErrorCode.InvalidRequest);
        AssertError(Send(dsm2, Msg(0x88, "06 01")), TdispErrorCode.InvalidRequest); // XT not supported
        AssertError(Send(dsm2, Msg(0x88, "06 02")), TdispErrorCode.InvalidRequest); // reserved config bit
        Assert.Equal(0x09, Send(dsm2, Msg(0x89, "05"))[1]);
        Assert.False(dsm2.Interfaces[0].IsP2pStreamBound(5));
    }

    [Fact]
    public void SetMmioAttribute_OnlyOnUpdatableReportedRanges_AndOnlyNonTeeBit()
    {
        var dsm = NewDevice();
        DriveTo(dsm, TdiState.Run);
        AssertError(Send(dsm, Msg(0x8A, "000000f000000000 02000000 0400 0000")), TdispErrorCode.InvalidRequest); // BAR0: not updatable
        AssertError(Send(dsm, Msg(0x8A, "0000000040000000 00080000 0c00 0200")), TdispErrorCode.InvalidRequest); // not a reported range
        AssertError(Send(dsm, Msg(0x8A, "0000000040000000 00100000 0d00 0200")), TdispErrorCode.InvalidRequest); // MSI-X bit
        AssertError(Send(dsm, Msg(0x8A, "0000000040000000 00100000 1c00 0200")), TdispErrorCode.InvalidRequest); // reserved bit
        Assert.Equal(0x0A, Send(dsm, Msg(0x8A, "0000000040000000 00100000 0c00 0200"))[1]);
        Assert.Equal("0c00", ToHex(dsm.Interfaces[0].Report.Slice(16 + 4 * 16 + 12, 2)));
    }

    [Fact]
    public void Vdm_EchoesRegistryAndVendor_AndRejectsUnknownRegistry()
    {
        var dsm = NewDevice();
        var rsp = Send(dsm, Msg(0x8B, "01 02 3412 aabbcc"));
        Assert.True(VdmMessage.TryRead(rsp, 0x0B, out var v));
        Assert.Equal(1, v.RegistryId);
        Assert.Equal("3412", ToHex(v.VendorId));
        Assert.Equal(0, v.Data.Length);
        AssertError(Send(dsm, Msg(0x8B, "02 00")), TdispErrorCode.InvalidRequest);
        AssertError(Send(dsm, Msg(0x8B, "00 04 3412")), TdispErrorCode.InvalidRequest);
    }

    [Fact]
    public void SetTdispConfig_WithXtDevice_SetsXtInReports_AndNeedsAllUnlocked()
    {
        var caps = DeviceConfiguration.Default.Tdisp;
        var dsm = NewDevice(DeviceConfiguration.Default with
        {
            Tdisp = caps with { XtSupported = true, RequestsSupported = caps.RequestsSupported | TdispCapabilities.RequestBit(0x8C) },
        });
        AssertError(Send(dsm, Msg(0x8C, "04000000")), TdispErrorCode.InvalidRequest);
        Assert.Equal(0x0C, Send(dsm, Msg(0x8C, "01000000"))[1]);
        Assert.Equal(TdispDsmConfig.XtModeEnable, dsm.DsmConfig);
        DriveTo(dsm, TdiState.ConfigLocked, Vf0);
        Assert.Equal(0x23, dsm.FindInterface(Vf0)!.Report[0]);
        AssertError(Send(dsm, Msg(0x8C, "00000000")), TdispErrorCode.InvalidInterfaceState);
        AssertError(Send(dsm, Msg(0x8C, "00000000", functionId: 0x0101)), TdispErrorCode.InvalidInterfaceState);
    }

    [Fact]
    public void SetTdispConfig_WithoutXtSupport_RejectsXtBits()
    {
        var caps = DeviceConfiguration.Default.Tdisp;
        var dsm = NewDevice(DeviceConfiguration.Default with { Tdisp = caps with { RequestsSupported = caps.RequestsSupported | TdispCapabilities.RequestBit(0x8C) } });
        AssertError(Send(dsm, Msg(0x8C, "01000000")), TdispErrorCode.InvalidRequest);
        Assert.Equal(0x0C, Send(dsm, Msg(0x8C, "00000000"))[1]);
    }

    // ---- trace hook ----

    [Fact]
    public void ExchangedEvent_CarriesStateBeforeAndAfter()
    {
        var dsm = NewDevice();
        ProgramKeys(dsm);
        var events = new List<TdispExchangeEvent>();
        dsm.Exchanged = events.Add;
        var nonce = LockInterfaceResponse.TryRead(Send(dsm, LockMessage()), out var l) ? l.StartInterfaceNonce.ToArray() : [];
        Send(dsm, Msg(0x86, ToHex(new byte[32])));
        Send(dsm, Msg(0x85, functionId: 0x0999));
        Assert.Equal(new TdispExchangeEvent(VdmProtocolId.Tdisp, 0x83, 0x03, Pf, TdiState.ConfigUnlocked, TdiState.ConfigLocked, TdispErrorCode.None), events[0]);
        Assert.Equal(new TdispExchangeEvent(VdmProtocolId.Tdisp, 0x86, 0x7F, Pf, TdiState.ConfigLocked, TdiState.ConfigLocked, TdispErrorCode.InvalidNonce), events[1]);
        Assert.Equal(new TdispExchangeEvent(VdmProtocolId.Tdisp, 0x85, 0x7F, new TdiFunctionId(0x0999), null, null, TdispErrorCode.InvalidInterface), events[2]);
        Assert.Equal(32, nonce.Length);
    }
}
