using TsmLab.Tdisp.Wire;
using static TsmLab.Tests.Tdisp.TdispTestKit;

namespace TsmLab.Tests.Tdisp;

/// <summary>
/// Byte vectors for every TDISP and IDE_KM message, the §5.5 report and the DOE / SPDM framing,
/// written by hand from the tables in platforms-and-tdisp.md §5 (not from the writers).
/// </summary>
public class TdispSerializationTests
{
    private const string H = "00010000 0000000000000000"; // function_id 0x0100 + reserved u64
    private static readonly TdiFunctionId Id = TdiFunctionId.FromRid(0x0100);

    private static void AssertBytes(string expectedHex, Func<byte[], int> write)
    {
        var buf = new byte[512];
        Array.Fill(buf, (byte)0xCC); // reserved fields must be written as zero
        int n = write(buf);
        Assert.Equal(ToHex(Hex(expectedHex)), ToHex(buf.AsSpan(0, n)));
    }

    [Fact]
    public void HeaderOnlyMessages_HaveTheirCodesAndSixteenBytes()
    {
        AssertBytes($"10 81 0000 {H}", b => HeaderOnlyMessage.WriteGetTdispVersion(b, Id));
        AssertBytes($"10 85 0000 {H}", b => HeaderOnlyMessage.WriteGetDeviceInterfaceState(b, Id));
        AssertBytes($"10 87 0000 {H}", b => HeaderOnlyMessage.WriteStopInterfaceRequest(b, Id));
        AssertBytes($"10 06 0000 {H}", b => HeaderOnlyMessage.WriteStartInterfaceResponse(b, Id));
        AssertBytes($"10 07 0000 {H}", b => HeaderOnlyMessage.WriteStopInterfaceResponse(b, Id));
        AssertBytes($"10 08 0000 {H}", b => HeaderOnlyMessage.WriteBindP2pStreamResponse(b, Id));
        AssertBytes($"10 09 0000 {H}", b => HeaderOnlyMessage.WriteUnbindP2pStreamResponse(b, Id));
        AssertBytes($"10 0a 0000 {H}", b => HeaderOnlyMessage.WriteSetMmioAttributeResponse(b, Id));
        AssertBytes($"10 0c 0000 {H}", b => HeaderOnlyMessage.WriteSetTdispConfigResponse(b, Id));
        Assert.True(HeaderOnlyMessage.TryRead(Hex($"10 87 0000 {H}"), 0x87, out var m));
        Assert.Equal(Id, m.FunctionId);
        Assert.False(HeaderOnlyMessage.TryRead(Hex($"10 87 0000 {H} 00"), 0x87, out _));
        Assert.False(HeaderOnlyMessage.TryRead(Hex($"10 86 0000 {H}"), 0x87, out _));
    }

    [Fact]
    public void FunctionId_SplitsRidSegmentAndValidBit()
    {
        var id = new TdiFunctionId(0x01_2A_0108);
        Assert.Equal(0x0108, id.Rid);
        Assert.Equal(0x2A, id.Segment);
        Assert.True(id.SegmentValid);
        Assert.Equal(1, id.Bus);
        Assert.Equal(1, id.DeviceNumber);
        Assert.Equal(0, id.FunctionNumber);
        Assert.Equal(0x0100u, TdiFunctionId.FromBdf(1, 0, 0).Value);
        Assert.Equal(0x0105_0101u, TdiFunctionId.FromRid(0x0101, 5).Value);
    }

    [Fact]
    public void TdispVersion_CountThenVersions()
    {
        AssertBytes($"10 01 0000 {H} 01 10", b => TdispVersionResponse.Write(b, Id, [0x10]));
        Assert.True(TdispVersionResponse.TryRead(Hex($"10 01 0000 {H} 02 10 11"), out var v));
        Assert.Equal([0x10, 0x11], v.Versions.ToArray());
        Assert.False(TdispVersionResponse.TryRead(Hex($"10 01 0000 {H} 02 10"), out _));
    }

    [Fact]
    public void Capabilities_RequestAndResponseLayout()
    {
        AssertBytes($"10 82 0000 {H} 78563412", b => GetTdispCapabilitiesRequest.Write(b, Id, 0x12345678));
        UInt128 bitmap = 0;
        for (byte c = 0x81; c <= 0x8B; c++)
            bitmap |= TdispCapabilities.RequestBit(c);
        var caps = new TdispCapabilities(1, bitmap, (LockInterfaceFlags)0x1F, 52, 1, 2);
        const string expected = $"10 02 0000 {H} 01000000 fe0f0000000000000000000000000000 1f00 000000 34 01 02";
        AssertBytes(expected, b => TdispCapabilitiesResponse.Write(b, Id, caps));
        Assert.True(TdispCapabilitiesResponse.TryRead(Hex(expected), out var r));
        Assert.Equal(caps, r.Capabilities);
        Assert.True(caps.Supports(0x83));
        Assert.False(caps.Supports(0x8C));
        Assert.Equal(44, Hex(expected).Length);
    }

    [Fact]
    public void LockInterface_RequestAndResponseLayout()
    {
        const string req = $"10 83 0000 {H} 0500 03 00 0010000000000000 0000ffff00000000";
        AssertBytes(req, b => LockInterfaceRequest.Write(b, Id, new LockInterfaceParameters((LockInterfaceFlags)5, 3, 0x1000, 0xffff0000)));
        Assert.True(LockInterfaceRequest.TryRead(Hex(req), out var r));
        Assert.Equal(new LockInterfaceParameters(LockInterfaceFlags.NoFwUpdate | LockInterfaceFlags.LockMsix, 3, 0x1000, 0xffff0000), r.Parameters);
        Assert.Equal(36, Hex(req).Length);
        var nonce = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();
        string rsp = $"10 03 0000 {H} {ToHex(nonce)}";
        AssertBytes(rsp, b => LockInterfaceResponse.Write(b, Id, nonce));
        Assert.True(LockInterfaceResponse.TryRead(Hex(rsp), out var l));
        Assert.Equal(nonce, l.StartInterfaceNonce.ToArray());
        Assert.Equal(48, Hex(rsp).Length);
    }

    [Fact]
    public void InterfaceReport_RequestAndPortionLayout()
    {
        AssertBytes($"10 84 0000 {H} 1000 2000", b => GetDeviceInterfaceReportRequest.Write(b, Id, 0x10, 0x20));
        const string rsp = $"10 04 0000 {H} 0200 0500 aabb";
        AssertBytes(rsp, b => DeviceInterfaceReportResponse.Write(b, Id, Hex("aabb"), 5));
        Assert.True(DeviceInterfaceReportResponse.TryRead(Hex(rsp), out var p));
        Assert.Equal(5, p.RemainderLength);
        Assert.Equal("aabb", ToHex(p.Portion));
        Assert.False(DeviceInterfaceReportResponse.TryRead(Hex($"10 04 0000 {H} 0300 0500 aabb"), out _));
    }

    [Fact]
    public void State_Start_P2p_Mmio_Config_Vdm_Error_Layouts()
    {
        AssertBytes($"10 05 0000 {H} 02", b => DeviceInterfaceStateResponse.Write(b, Id, TdiState.Run));
        var nonce = Enumerable.Repeat((byte)0xA5, 32).ToArray();
        AssertBytes($"10 86 0000 {H} {ToHex(nonce)}", b => StartInterfaceRequest.Write(b, Id, nonce));
        AssertBytes($"10 88 0000 {H} 07 01", b => BindP2pStreamRequest.Write(b, Id, 7, 1));
        AssertBytes($"10 89 0000 {H} 07", b => UnbindP2pStreamRequest.Write(b, Id, 7));
        var range = new MmioRange(0x40_0000_0000, 0x1000, MmioRangeAttributes.IsNonTeeMem | MmioRangeAttributes.IsMemAttrUpdatable, 2);
        AssertBytes($"10 8a 0000 {H} 0000000040000000 00100000 0c00 0200", b => SetMmioAttributeRequest.Write(b, Id, range));
        Assert.True(SetMmioAttributeRequest.TryRead(Hex($"10 8a 0000 {H} 0000000040000000 00100000 0c00 0200"), out var s));
        Assert.Equal(range, s.Range);
        AssertBytes($"10 8c 0000 {H} 03000000", b => SetTdispConfigRequest.Write(b, Id, TdispDsmConfig.XtModeEnable | TdispDsmConfig.XtBitForLockedMsix));
        AssertBytes($"10 8b 0000 {H} 00 02 0100 beef", b => VdmMessage.Write(b, 0x8B, Id, 0, Hex("0100"), Hex("beef")));
        Assert.True(VdmMessage.TryRead(Hex($"10 0b 0000 {H} 01 02 0100 beef"), 0x0B, out var v));
        Assert.Equal(1, v.RegistryId);
        Assert.Equal("0100", ToHex(v.VendorId));
        Assert.Equal("beef", ToHex(v.Data));
        Assert.False(VdmMessage.TryRead(Hex($"10 8b 0000 {H} 00 05 0100"), 0x8B, out _));
        AssertBytes($"10 7f 0000 {H} 07000000 90000000", b => TdispErrorResponse.Write(b, Id, TdispErrorCode.UnsupportedRequest, 0x90));
        Assert.True(TdispErrorResponse.TryRead(Hex($"10 7f 0000 {H} 02010000 00000000 00 02 0100"), out var e));
        Assert.Equal(TdispErrorCode.InvalidNonce, e.ErrorCode);
        Assert.Equal("00020100", ToHex(e.ExtendedData));
    }

    [Fact]
    public void IdeKm_AllObjectLayouts()
    {
        AssertBytes("00 00 02", b => IdeKmQuery.Write(b, 2));
        AssertBytes("01 00 00 00 01 00 00 78563412", b => IdeKmQueryResponse.Write(b, 0, 0x00, 0x01, 0, 0, [0x12345678u]));
        var slot = IdeKeySubStream.Create(1, IdeKeyDirection.Transmit, IdeSubStream.NonPostedRequest);
        Assert.Equal(0x13, slot.Value);
        var key = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();
        var ifv = Enumerable.Range(0x40, 8).Select(i => (byte)i).ToArray();
        AssertBytes($"02 0000 03 00 13 00 {ToHex(key)} {ToHex(ifv)}", b => IdeKmStreamMessage.WriteKeyProg(b, 3, slot, 0, key, ifv));
        AssertBytes("03 0000 03 03 13 00", b => IdeKmStreamMessage.Write(b, IdeKmObjectId.KpAck, 3, slot, 0, (byte)KpAckStatus.UnsupportedValue));
        AssertBytes("04 0000 03 00 13 00", b => IdeKmStreamMessage.Write(b, IdeKmObjectId.KSetGo, 3, slot, 0));
        AssertBytes("05 0000 03 00 13 00", b => IdeKmStreamMessage.Write(b, IdeKmObjectId.KSetStop, 3, slot, 0));
        AssertBytes("06 0000 03 00 13 00", b => IdeKmStreamMessage.Write(b, IdeKmObjectId.KGoStopAck, 3, slot, 0));
        Assert.True(IdeKmStreamMessage.TryRead(Hex($"02 0000 03 00 13 00 {ToHex(key)} {ToHex(ifv)}"), out var kp));
        Assert.Equal(key, kp.Key.ToArray());
        Assert.Equal(ifv, kp.Ifv.ToArray());
        Assert.Equal(IdeSubStream.NonPostedRequest, kp.KeySubStream.SubStream);
        Assert.False(IdeKmStreamMessage.TryRead(Hex("02 0000 03 00 13 00"), out _));
        Assert.False(new IdeKeySubStream(0x34).IsValid);
        Assert.False(new IdeKeySubStream(0x04).IsValid);
    }

    [Fact]
    public void DoeHeader_LengthInDwordsIncludingHeader_ZeroMeansMax()
    {
        AssertBytes("0100 01 00 06000000", b => { DoeHeader.Write(b, DoeObjectType.Spdm, 13); return 8; });
        Assert.Equal(24, DoeHeader.ObjectSize(13));
        Assert.True(DoeHeader.TryRead(Hex("0100 02 00 00000000"), out var h));
        Assert.Equal(DoeHeader.MaxLengthDwords, h.LengthDwords);
        Assert.Equal(DoeObjectType.SecuredSpdm, h.Type);
        Assert.False(DoeHeader.TryRead(Hex("0100 01 00 01000000"), out _));
    }

    [Fact]
    public void SpdmVendorDefined_ClassicForm()
    {
        const string msg = "12 fe 00 00 0300 02 0100 0200 0110";
        AssertBytes(msg, b => SpdmVendorDefinedMessage.Write(b, 0x12, 0xFE, false, Hex("0110")));
        Assert.True(SpdmVendorDefinedMessage.TryRead(Hex(msg + "0000"), out var m)); // DOE padding after the payload
        Assert.False(m.IsLarge);
        Assert.Equal("0110", ToHex(m.Payload));
        Assert.False(SpdmVendorDefinedMessage.TryRead(Hex("12 fe 00 00 0400 02 0100 0200 0110"), out _)); // not PCI-SIG registry
        Assert.False(SpdmVendorDefinedMessage.TryRead(Hex("12 fe 00 00 0300 02 0100 0300 0110"), out _)); // length beyond the message
    }

    [Fact]
    public void SpdmVendorDefined_Spdm14LargeForm()
    {
        // LargeReq is param1 bit 7 (0x80) and the legacy u16 length is written 0 [D3].
        const string msg = "14 fe 80 00 0300 02 0100 0000 02000000 0110";
        AssertBytes(msg, b => SpdmVendorDefinedMessage.Write(b, 0x14, 0xFE, true, Hex("0110")));
        Assert.True(SpdmVendorDefinedMessage.TryRead(Hex(msg), out var m));
        Assert.True(m.IsLarge);
        Assert.Equal("0110", ToHex(m.Payload));
        // The reference requester leaves the legacy length unset: it is ignored in the large form.
        Assert.True(SpdmVendorDefinedMessage.TryRead(Hex("14 fe 80 00 0300 02 0100 3412 02000000 0110"), out var e));
        Assert.True(e.IsLarge);
        Assert.Equal("0110", ToHex(e.Payload));
        // param1 bit 0 is not the large flag: the classic length field is read.
        Assert.True(SpdmVendorDefinedMessage.TryRead(Hex("14 fe 01 00 0300 02 0100 0200 0110"), out var c));
        Assert.False(c.IsLarge);
        // Before SPDM 1.4 param1 bit 7 means nothing either.
        Assert.True(SpdmVendorDefinedMessage.TryRead(Hex("12 fe 80 00 0300 02 0100 0200 0110"), out var d));
        Assert.False(d.IsLarge);
        Assert.Throws<ArgumentOutOfRangeException>(() => SpdmVendorDefinedMessage.WriteHeader(new byte[16], 0x12, 0xFE, false, 70000));
    }

    [Fact]
    public void Report_DefaultPfWithLockMsix_MatchesSection55Layout()
    {
        var dsm = NewDevice();
        DriveTo(dsm, TdiState.ConfigLocked, flags: 0x0004);
        const string expected =
            "0300 0000 3f00 0000 00000000 05000000" +
            "000000f000000000 02000000 0000 0000" +
            "002000f000000000 01000000 0100 0000" +
            "003000f000000000 01000000 0200 0000" +
            "004000f000000000 fc000000 0000 0000" +
            "0000000040000000 00100000 0800 0200" +
            "06000000 54534d4c4142";
        Assert.Equal(ToHex(Hex(expected)), ToHex(dsm.Interfaces[0].Report));
    }

    [Fact]
    public void Report_VfWithoutLockMsixAndReportingOffset_MarksMsixNonTeeAndAddsOffset()
    {
        var dsm = NewDevice();
        ProgramKeys(dsm);
        var rsp = Send(dsm, LockMessage(flags: 0x0000, offset: 0x100_0000_0000, functionId: 0x0102)); // VF1
        Assert.True(LockInterfaceResponse.TryRead(rsp, out _));
        const string expected =
            "0300 0000 0000 0000 00000000 04000000" +
            "004000f100010000 01000000 0500 0000" +   // VF1 BAR0 = 0xf1004000: MSI-X table, non-TEE
            "005000f100010000 01000000 0600 0000" +   // PBA, non-TEE
            "006000f100010000 02000000 0000 0000" +
            "0000100041010000 00010000 0800 0200" +   // VF1 BAR2 = 0x4100100000
            "06000000 54534d4c4142";
        Assert.Equal(ToHex(Hex(expected)), ToHex(dsm.FindInterface(TdiFunctionId.FromRid(0x0102))!.Report));
        Assert.True(InterfaceReport.TryRead(Hex(expected), out var r));
        Assert.Equal(4, r.RangeCount);
        Assert.Equal(new MmioRange(0x100_F100_6000, 2, 0, 0), r.GetRange(2));
        Assert.Equal("54534d4c4142", ToHex(r.DeviceSpecificInfo));
        Assert.False(InterfaceReport.TryRead(Hex(expected)[..^1], out _));
    }
}
