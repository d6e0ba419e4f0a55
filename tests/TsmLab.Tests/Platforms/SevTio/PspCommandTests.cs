using System.Security.Cryptography;
using TsmLab.Hardware;
using TsmLab.Platforms.SevTio.Firmware;
using TsmLab.Tdisp.Requester;
using TsmLab.Platforms.SevTio.Abi;
using TsmLab.Platforms.SevTio.HostDriver;
using System.Buffers.Binary;

namespace TsmLab.Tests.Platforms.SevTio;

/// <summary>
/// The PSP's TIO commands driven through its mailbox with the command buffers of the public host
/// driver (aik/linux sev-dev-tio.c @ aa4f5cf [S5]) and the statuses of its psp-sev.h [S6].
/// </summary>
public sealed class PspCommandTests
{
    private static byte[] Buf(int size, int? lengthField = null)
    {
        var b = new byte[size];
        BinaryPrimitives.WriteUInt32LittleEndian(b, (uint)(lengthField ?? size));
        return b;
    }

    private sealed class NoRoute : IPspDeviceRoute
    {
        public TsmLab.Kernel.Pci.IDoeMailbox? Mailbox(uint deviceId) => null;
        public System.Security.Cryptography.X509Certificates.X509Certificate2? TrustedRoot(uint deviceId) => null;
    }

    private static ulong Page(SevRig rig) => SlaAddress.Data(rig.Tsm.Memory.Allocate(1));

    [Fact]
    public void EveryCommandBuffer_HasThePublicDriversSizeAndOffsets()
    {
        // sizeof(struct sev_data_tio_*) as sev_tio_cmd_buffer_len returns them [S5].
        var expected = new Dictionary<PspCommandId, int>
        {
            [PspCommandId.TioStatus] = 16, [PspCommandId.TioInit] = 16, [PspCommandId.DevCreate] = 32, [PspCommandId.DevReclaim] = 16,
            [PspCommandId.DevConnect] = 80, [PspCommandId.DevDisconnect] = 48, [PspCommandId.DevStatus] = 28, [PspCommandId.DevMeasurements] = 80,
            [PspCommandId.DevCertificates] = 48, [PspCommandId.TdiCreate] = 48, [PspCommandId.TdiReclaim] = 32, [PspCommandId.TdiBind] = 72,
            [PspCommandId.TdiUnbind] = 64, [PspCommandId.TdiReport] = 64, [PspCommandId.TdiStatus] = 64, [PspCommandId.GuestRequest] = 80,
            [PspCommandId.TdiInfo] = 48,
        };
        Assert.Equal(expected.OrderBy(e => e.Key), PspFirmware.Served.Select(s => KeyValuePair.Create(s.Id, s.Size)).OrderBy(e => e.Key));
        // sev_data_tio_guest_request: spdm_ctrl (32 B) @8, dev_ctx_sla @40, tdi_ctx_sla @48, gctx @56, req @64, res @72.
        Assert.Equal((8, 40, 48, 56, 64, 72), (PspCommandBuffer.GuestRequest.SpdmCtrl, PspCommandBuffer.GuestRequest.DevCtxSla, PspCommandBuffer.GuestRequest.TdiCtxSla,
            PspCommandBuffer.GuestRequest.Gctx, PspCommandBuffer.GuestRequest.ReqPaddr, PspCommandBuffer.GuestRequest.ResPaddr));
        Assert.Equal(32, PspCommandBuffer.SpdmCtrl.Size);
        // sev_data_tio_tdi_bind: guest_device_id u16 @64, tdisp_lock_if.flags u16 @66, run (b0 of the u16 @68).
        Assert.Equal((64, 66, 68), (PspCommandBuffer.TdiBind.GuestDeviceId, PspCommandBuffer.TdiBind.LockFlags, PspCommandBuffer.TdiBind.RunWord));
        Assert.Equal((8, 16, 18, 20), (PspCommandBuffer.DevCreate.DevCtxSla, PspCommandBuffer.DevCreate.DeviceId, PspCommandBuffer.DevCreate.RootPortId, PspCommandBuffer.DevCreate.SegmentId));
        Assert.Equal((4, 40, 48), (PspCommandBuffer.DevMeasurements.Flags, PspCommandBuffer.DevMeasurements.DevCtxSla, PspCommandBuffer.DevMeasurements.Nonce));
        Assert.Equal((48, 56, 57, 64), (PspCommandBuffer.DevConnect.DevCtxSla, PspCommandBuffer.DevConnect.TcMask, PspCommandBuffer.DevConnect.CertSlot, PspCommandBuffer.DevConnect.IdeStreamId));
        Assert.Equal((48, 160, 192, 0x40), (TioStatusData.Size, DevStatusData.Size, TdiInfoData.Size, SlaBufferHeader.Size));
        // sla_addr_t: page_type b0, page_size b1, pfn b12-51; SLA_EOL = pfn all ones.
        Assert.Equal(0xF_FFFF_FFFF_F000ul, SlaAddress.Eol);
        Assert.Equal(0x1234_5001ul, SlaAddress.Scatter(0x1234_5000));
        Assert.False(SlaAddress.TryDecode(0x1234_5004, out _, out _, out _));
    }

    [Fact]
    public void TioStatus_BeforeAndAfterInit_OtherCommandsBeforeInit_AreInvalidPlatformState_AndInitTwiceToo()
    {
        var memory = new PhysicalMemory(0x1_0000_0000);
        var psp = new PspFirmware(new NoRoute(), memory, new Rmp());
        ulong page = memory.Allocate(1);
        var status = Buf(PspCommandBuffer.TioStatus.Size);
        BinaryPrimitives.WriteUInt64LittleEndian(status.AsSpan(PspCommandBuffer.TioStatus.StatusPaddr), page);
        Assert.Equal(PspStatus.Success, psp.Command(PspCommandId.TioStatus, status));
        var s = memory.At(page, TioStatusData.Size);
        Assert.Equal((uint)TioStatusData.Size, BinaryPrimitives.ReadUInt32LittleEndian(s[TioStatusData.Length..]));
        Assert.Equal(TioStatusData.TioEn, BinaryPrimitives.ReadUInt32LittleEndian(s[TioStatusData.Flags..]));               // tio_en b0, not tio_init_done b1
        Assert.Equal((uint)PspFirmware.ContextSize, BinaryPrimitives.ReadUInt32LittleEndian(s[TioStatusData.DevctxSize..]));
        Assert.Equal((uint)PspFirmware.SpdmOutputMax, BinaryPrimitives.ReadUInt32LittleEndian(s[TioStatusData.SpdmOutSizeMax..]));
        var create = Buf(PspCommandBuffer.DevCreate.Size);
        BinaryPrimitives.WriteUInt64LittleEndian(create.AsSpan(PspCommandBuffer.DevCreate.DevCtxSla), SlaAddress.Data(memory.Allocate(1)));
        Assert.Equal(PspStatus.InvalidPlatformState, psp.Command(PspCommandId.DevCreate, create));
        Assert.Equal(PspStatus.InvalidLength, psp.Command(PspCommandId.TioInit, Buf(8)));   // TIO_INIT is 16 bytes [S5]
        Assert.Equal(PspStatus.Success, psp.Command(PspCommandId.TioInit, Buf(PspCommandBuffer.TioInit.Size)));
        Assert.Equal(PspStatus.InvalidPlatformState, psp.Command(PspCommandId.TioInit, Buf(PspCommandBuffer.TioInit.Size)));
        Assert.Equal(PspStatus.Success, psp.Command(PspCommandId.TioStatus, status));
        Assert.Equal(TioStatusData.TioEn | TioStatusData.TioInitDone, BinaryPrimitives.ReadUInt32LittleEndian(memory.At(page, TioStatusData.Size)[TioStatusData.Flags..]));
        Assert.Equal(PspStatus.InvalidParam, psp.Command(PspCommandId.DevCreate, create));    // no DOE route to device 0
        BinaryPrimitives.WriteUInt64LittleEndian(status.AsSpan(PspCommandBuffer.TioStatus.StatusPaddr), 0x1234_0000);
        Assert.Equal(PspStatus.InvalidAddress, psp.Command(PspCommandId.TioStatus, status));
    }

    [Fact]
    public void LengthFieldOrBufferSize_Wrong_IsInvalidLength()
    {
        var rig = new SevRig();
        Assert.Equal(PspStatus.InvalidLength, rig.Tsm.Psp.Command(PspCommandId.DevStatus, Buf(PspCommandBuffer.DevStatus.Size, 16)));
        Assert.Equal(PspStatus.InvalidLength, rig.Tsm.Psp.Command(PspCommandId.DevStatus, Buf(16)));
        Assert.Equal(PspStatus.InvalidLength, rig.Tsm.Psp.Command(PspCommandId.DevStatus, new byte[4]));
    }

    [Fact]
    public void OutputObject_IsBufferHeaderThenCertificateObject_TooSmall_IsExpandBufferLengthRequest_BadSla_IsInvalidParamOrAddress()
    {
        var rig = new SevRig();
        var psp = rig.Tsm.Psp;
        var d = rig.Tsm.BuffersOf(rig.Function.Dsm)!;
        var mem = rig.Tsm.Memory;
        var c = Buf(PspCommandBuffer.DevCertificates.Size);
        d.FillSpdmCtrl(c.AsSpan(PspCommandBuffer.DevCertificates.SpdmCtrl));
        BinaryPrimitives.WriteUInt64LittleEndian(c.AsSpan(PspCommandBuffer.DevCertificates.DevCtxSla), d.DevCtx);

        ulong small = SevDeviceBuffers.Alloc(mem, 4096);
        BinaryPrimitives.WriteUInt32LittleEndian(mem.At(small, 4)[SlaBufferHeader.CapacitySz..], 128);                            // the host says: 128 bytes
        BinaryPrimitives.WriteUInt64LittleEndian(c.AsSpan(PspCommandBuffer.DevCertificates.SpdmCtrl + PspCommandBuffer.SpdmCtrl.Output), small);
        Assert.Equal(PspStatus.ExpandBufferLengthRequest, psp.Command(PspCommandId.DevCertificates, c));
        uint needed = BinaryPrimitives.ReadUInt32LittleEndian(mem.At(small, 4)[SlaBufferHeader.CapacitySz..]);
        Assert.True(needed >= 4096 && needed % 4096 == 0);
        Assert.True(mem.At(small + 4, 4092).IndexOfAnyExcept((byte)0) < 0);                    // nothing else written

        ulong output = SevDeviceBuffers.Alloc(mem, needed);
        BinaryPrimitives.WriteUInt64LittleEndian(c.AsSpan(PspCommandBuffer.DevCertificates.SpdmCtrl + PspCommandBuffer.SpdmCtrl.Output), output);
        Assert.Equal(PspStatus.Success, psp.Command(PspCommandId.DevCertificates, c));
        Assert.True(SlaBuffer.TryOpen(mem, output, out var buf) == PspStatus.Success);
        var all = new byte[buf.Capacity];
        buf.Read(0, all);
        uint payload = BinaryPrimitives.ReadUInt32LittleEndian(all.AsSpan(SlaBufferHeader.PayloadSz)), length = BinaryPrimitives.ReadUInt32LittleEndian(all.AsSpan(0x40 + SpdmDataObject.Length));
        Assert.Equal(SpdmDataObject.IdCertificate, BinaryPrimitives.ReadUInt32LittleEndian(all.AsSpan(0x40 + SpdmDataObject.Id)));     // SPDM_DOBJ_ID_CERTIFICATE 4
        Assert.Equal(0u, payload % 32);
        Assert.True(length <= payload && payload - length < 32);
        Assert.Equal((byte)1, all[0x40 + SpdmDataObject.VersionMajor]);
        Assert.Equal((ushort)0x0100, BinaryPrimitives.ReadUInt16LittleEndian(all.AsSpan(0x40 + SpdmDataObject.DeviceId)));
        Assert.Equal((byte)1, all[0x40 + SpdmDataObject.Type]);
        var chain = all.AsSpan(0x40 + 32, (int)length - 32);

        var st = Buf(PspCommandBuffer.DevStatus.Size);
        BinaryPrimitives.WriteUInt64LittleEndian(st.AsSpan(PspCommandBuffer.DevStatus.DevCtxSla), d.DevCtx);
        BinaryPrimitives.WriteUInt32LittleEndian(st.AsSpan(PspCommandBuffer.DevStatus.StatusLength), DevStatusData.Size);
        BinaryPrimitives.WriteUInt64LittleEndian(st.AsSpan(PspCommandBuffer.DevStatus.StatusPaddr), d.DataPage);
        Assert.Equal(PspStatus.Success, psp.Command(PspCommandId.DevStatus, st));
        Assert.Equal(SHA384.HashData(chain), mem.At(d.DataPage + DevStatusData.CertsDigest, 48).ToArray());

        BinaryPrimitives.WriteUInt64LittleEndian(c.AsSpan(PspCommandBuffer.DevCertificates.SpdmCtrl + PspCommandBuffer.SpdmCtrl.Output), output | 0x10);   // reserved bit
        Assert.Equal(PspStatus.InvalidParam, psp.Command(PspCommandId.DevCertificates, c));
        BinaryPrimitives.WriteUInt64LittleEndian(c.AsSpan(PspCommandBuffer.DevCertificates.SpdmCtrl + PspCommandBuffer.SpdmCtrl.Output), SlaAddress.Data(0x7700_0000));
        Assert.Equal(PspStatus.InvalidAddress, psp.Command(PspCommandId.DevCertificates, c));
        BinaryPrimitives.WriteUInt64LittleEndian(c.AsSpan(PspCommandBuffer.DevCertificates.SpdmCtrl + PspCommandBuffer.SpdmCtrl.Scratch), SlaAddress.Null);
        Assert.Equal(PspStatus.InvalidParam, psp.Command(PspCommandId.DevCertificates, c));
    }

    [Fact]
    public void ScatterList_IsReadUpToEol_NestedEmptyOrUnmappedEntries_AreRefused()
    {
        var mem = new PhysicalMemory(0x1_0000_0000);
        ulong list = mem.Allocate(1), a = mem.Allocate(1), b = mem.Allocate(1);
        var l = mem.At(list, 4096);
        BinaryPrimitives.WriteUInt64LittleEndian(l, SlaAddress.Data(a));
        BinaryPrimitives.WriteUInt64LittleEndian(l[8..], SlaAddress.Data(b));
        BinaryPrimitives.WriteUInt64LittleEndian(l[16..], SlaAddress.Eol);
        Assert.Equal(PspStatus.Success, SlaBuffer.TryOpen(mem, SlaAddress.Scatter(list), out var buf));
        Assert.Equal(8192, buf.Capacity);
        Assert.True(buf.Write(4090, [1, 2, 3, 4, 5, 6, 7, 8]));                                   // across the page boundary
        Assert.Equal(new byte[] { 7, 8 }, mem.At(b, 2).ToArray());
        Assert.False(buf.Write(8190, [1, 2, 3]));
        BinaryPrimitives.WriteUInt64LittleEndian(l[8..], SlaAddress.Scatter(b));
        Assert.Equal(PspStatus.InvalidParam, SlaBuffer.TryOpen(mem, SlaAddress.Scatter(list), out _));   // nested scatter
        BinaryPrimitives.WriteUInt64LittleEndian(l[8..], SlaAddress.Data(0x9_0000_0000));
        Assert.Equal(PspStatus.InvalidAddress, SlaBuffer.TryOpen(mem, SlaAddress.Scatter(list), out _));
        BinaryPrimitives.WriteUInt64LittleEndian(l, SlaAddress.Eol);
        Assert.Equal(PspStatus.InvalidParam, SlaBuffer.TryOpen(mem, SlaAddress.Scatter(list), out _));   // no pages
        Assert.Equal(PspStatus.InvalidParam, SlaBuffer.TryOpen(mem, SlaAddress.Data(a) | SlaAddress.PageSize2M, out _));
        Assert.Equal(PspStatus.InvalidParam, SlaBuffer.TryOpen(mem, SlaAddress.Null, out _));
    }

    [Fact]
    public void DevStatus_ReportsTheConnectedDevice_ShortStatusLength_IsInvalidLength_UnknownContext_IsInvalidParam()
    {
        var rig = new SevRig();
        var psp = rig.Tsm.Psp;
        var d = rig.Tsm.BuffersOf(rig.Function.Dsm)!;
        var st = Buf(PspCommandBuffer.DevStatus.Size);
        BinaryPrimitives.WriteUInt64LittleEndian(st.AsSpan(PspCommandBuffer.DevStatus.DevCtxSla), Page(rig));
        BinaryPrimitives.WriteUInt32LittleEndian(st.AsSpan(PspCommandBuffer.DevStatus.StatusLength), DevStatusData.Size);
        BinaryPrimitives.WriteUInt64LittleEndian(st.AsSpan(PspCommandBuffer.DevStatus.StatusPaddr), d.DataPage);
        Assert.Equal(PspStatus.InvalidParam, psp.Command(PspCommandId.DevStatus, st));
        BinaryPrimitives.WriteUInt64LittleEndian(st.AsSpan(PspCommandBuffer.DevStatus.DevCtxSla), d.DevCtx);
        BinaryPrimitives.WriteUInt32LittleEndian(st.AsSpan(PspCommandBuffer.DevStatus.StatusLength), DevStatusData.Size - 1);
        Assert.Equal(PspStatus.InvalidLength, psp.Command(PspCommandId.DevStatus, st));
        BinaryPrimitives.WriteUInt32LittleEndian(st.AsSpan(PspCommandBuffer.DevStatus.StatusLength), DevStatusData.Size);
        Assert.Equal(PspStatus.Success, psp.Command(PspCommandId.DevStatus, st));
        var s = rig.Tsm.Memory.At(d.DataPage, DevStatusData.Size);
        Assert.Equal((uint)DevStatusData.Size, BinaryPrimitives.ReadUInt32LittleEndian(s[DevStatusData.Length..]));
        Assert.Equal(DevStatusData.StateConnected, s[DevStatusData.CtxState]);
        Assert.Equal((ushort)0x0100, BinaryPrimitives.ReadUInt16LittleEndian(s[DevStatusData.DeviceId..]));
        Assert.Equal((byte)1, s[DevStatusData.TcMask]);
        Assert.Equal(DevStatusData.MeasDigestValid, s[DevStatusData.P2]);
        Assert.Equal((0u, 0u), (BinaryPrimitives.ReadUInt32LittleEndian(s[DevStatusData.TdiCount..]), BinaryPrimitives.ReadUInt32LittleEndian(s[DevStatusData.BoundTdiCount..])));
    }

    [Fact]
    public void ContextAndStateErrors()
    {
        var rig = new SevRig();
        var psp = rig.Tsm.Psp;
        var d = rig.Tsm.BuffersOf(rig.Function.Dsm)!;
        var connect = Buf(PspCommandBuffer.DevConnect.Size);
        d.FillSpdmCtrl(connect.AsSpan(PspCommandBuffer.DevConnect.SpdmCtrl));
        BinaryPrimitives.WriteUInt64LittleEndian(connect.AsSpan(PspCommandBuffer.DevConnect.DevCtxSla), d.DevCtx);
        connect[PspCommandBuffer.DevConnect.TcMask] = 1;
        Assert.Equal(PspStatus.InvalidGuestState, psp.Command(PspCommandId.DevConnect, connect));   // connected at boot
        var reclaim = Buf(PspCommandBuffer.DevReclaim.Size);
        BinaryPrimitives.WriteUInt64LittleEndian(reclaim.AsSpan(PspCommandBuffer.DevReclaim.DevCtxSla), d.DevCtx);
        Assert.Equal(PspStatus.InvalidGuestState, psp.Command(PspCommandId.DevReclaim, reclaim));   // still connected

        var create = Buf(PspCommandBuffer.DevCreate.Size);
        BinaryPrimitives.WriteUInt64LittleEndian(create.AsSpan(PspCommandBuffer.DevCreate.DevCtxSla), Page(rig));
        BinaryPrimitives.WriteUInt16LittleEndian(create.AsSpan(PspCommandBuffer.DevCreate.DeviceId), 0x0100);
        Assert.Equal(PspStatus.AlreadyOwned, psp.Command(PspCommandId.DevCreate, create));          // device created
        BinaryPrimitives.WriteUInt64LittleEndian(create.AsSpan(PspCommandBuffer.DevCreate.DevCtxSla), d.DevCtx);
        BinaryPrimitives.WriteUInt16LittleEndian(create.AsSpan(PspCommandBuffer.DevCreate.DeviceId), 0x0200);
        Assert.Equal(PspStatus.AlreadyOwned, psp.Command(PspCommandId.DevCreate, create));          // page holds a context
        BinaryPrimitives.WriteUInt64LittleEndian(create.AsSpan(PspCommandBuffer.DevCreate.DevCtxSla), SlaAddress.Scatter(rig.Tsm.Memory.Allocate(1)));
        Assert.Equal(PspStatus.InvalidParam, psp.Command(PspCommandId.DevCreate, create));          // a context is one data page

        ulong tdiPage = Page(rig);
        var tdi = Buf(PspCommandBuffer.TdiCreate.Size);
        BinaryPrimitives.WriteUInt64LittleEndian(tdi.AsSpan(PspCommandBuffer.TdiCreate.DevCtxSla), d.DevCtx);
        BinaryPrimitives.WriteUInt64LittleEndian(tdi.AsSpan(PspCommandBuffer.TdiCreate.TdiCtxSla), tdiPage);
        BinaryPrimitives.WriteUInt32LittleEndian(tdi.AsSpan(PspCommandBuffer.TdiCreate.InterfaceId), 0x0400_0101);                         // reserved bit 26
        Assert.Equal(PspStatus.InvalidParam, psp.Command(PspCommandId.TdiCreate, tdi));
        BinaryPrimitives.WriteUInt32LittleEndian(tdi.AsSpan(PspCommandBuffer.TdiCreate.InterfaceId), TdispInterfaceId.Encode(0x0101, 0, false));
        Assert.Equal(PspStatus.Success, psp.Command(PspCommandId.TdiCreate, tdi));
        Assert.Equal(PspStatus.AlreadyOwned, psp.Command(PspCommandId.TdiCreate, tdi));              // page in use
        BinaryPrimitives.WriteUInt64LittleEndian(tdi.AsSpan(PspCommandBuffer.TdiCreate.TdiCtxSla), Page(rig));
        Assert.Equal(PspStatus.AlreadyOwned, psp.Command(PspCommandId.TdiCreate, tdi));              // function has a TDI

        ulong gctx9 = rig.Tsm.Memory.Allocate(1), gctx10 = rig.Tsm.Memory.Allocate(1);
        Assert.Equal(PspStatus.Success, psp.SnpLaunchStart(gctx9, 9));
        Assert.Equal(PspStatus.AlreadyOwned, psp.SnpLaunchStart(gctx9, 10));
        Assert.Equal(PspStatus.Success, psp.SnpLaunchStart(gctx10, 10));

        byte[] Ctx(int size, int spdm, int dev, int tdiOff, int gctxOff, ulong gctx)
        {
            var b = Buf(size);
            d.FillSpdmCtrl(b.AsSpan(spdm));
            BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(dev), d.DevCtx);
            BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(tdiOff), tdiPage);
            BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(gctxOff), gctx);
            return b;
        }
        byte[] Unbind(ulong g) => Ctx(PspCommandBuffer.TdiUnbind.Size, 8, 40, 48, 56, g);
        byte[] Bind(ulong g, ushort guestRid, ushort flags, ushort run)
        {
            var b = Ctx(PspCommandBuffer.TdiBind.Size, 8, 40, 48, 56, g);
            BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(PspCommandBuffer.TdiBind.GuestDeviceId), guestRid);
            BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(PspCommandBuffer.TdiBind.LockFlags), flags);
            BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(PspCommandBuffer.TdiBind.RunWord), run);
            return b;
        }
        Assert.Equal(PspStatus.InvalidGuestState, psp.Command(PspCommandId.TdiUnbind, Unbind(gctx9)));      // not bound
        Assert.Equal(PspStatus.InvalidGuest, psp.Command(PspCommandId.TdiBind, Bind(0x5000, 0x18, 1, 0)));  // no guest context there
        Assert.Equal(PspStatus.InvalidParam, psp.Command(PspCommandId.TdiBind, Bind(gctx9, 0x18, 0x40, 0))); // reserved lock flag
        Assert.Equal(PspStatus.InvalidParam, psp.Command(PspCommandId.TdiBind, Bind(gctx9, 0x18, 1, 2)));    // reserved bit beside run
        Assert.Equal(PspStatus.Success, psp.Command(PspCommandId.TdiBind, Bind(gctx9, 0x18, 1, 0)));
        ulong second = Page(rig);
        var tdi2 = Buf(PspCommandBuffer.TdiCreate.Size);
        BinaryPrimitives.WriteUInt64LittleEndian(tdi2.AsSpan(PspCommandBuffer.TdiCreate.DevCtxSla), d.DevCtx);
        BinaryPrimitives.WriteUInt64LittleEndian(tdi2.AsSpan(PspCommandBuffer.TdiCreate.TdiCtxSla), second);
        BinaryPrimitives.WriteUInt32LittleEndian(tdi2.AsSpan(PspCommandBuffer.TdiCreate.InterfaceId), 0x0102);
        Assert.Equal(PspStatus.Success, psp.Command(PspCommandId.TdiCreate, tdi2));
        var bind2 = Bind(gctx9, 0x18, 1, 0);
        BinaryPrimitives.WriteUInt64LittleEndian(bind2.AsSpan(PspCommandBuffer.TdiBind.TdiCtxSla), second);
        Assert.Equal(PspStatus.AlreadyOwned, psp.Command(PspCommandId.TdiBind, bind2));                     // guest 9 has a TDI as 0x18
        var reclaim2 = Buf(PspCommandBuffer.TdiReclaim.Size);
        BinaryPrimitives.WriteUInt64LittleEndian(reclaim2.AsSpan(PspCommandBuffer.TdiReclaim.DevCtxSla), d.DevCtx);
        BinaryPrimitives.WriteUInt64LittleEndian(reclaim2.AsSpan(PspCommandBuffer.TdiReclaim.TdiCtxSla), second);
        Assert.Equal(PspStatus.Success, psp.Command(PspCommandId.TdiReclaim, reclaim2));

        var info = Buf(PspCommandBuffer.TdiInfo.Size);
        BinaryPrimitives.WriteUInt64LittleEndian(info.AsSpan(PspCommandBuffer.TdiInfo.DevCtxSla), d.DevCtx);
        BinaryPrimitives.WriteUInt64LittleEndian(info.AsSpan(PspCommandBuffer.TdiInfo.TdiCtxSla), tdiPage);
        BinaryPrimitives.WriteUInt64LittleEndian(info.AsSpan(PspCommandBuffer.TdiInfo.StatusPaddr), d.DataPage);
        Assert.Equal(PspStatus.Success, psp.Command(PspCommandId.TdiInfo, info));
        var data = rig.Tsm.Memory.At(d.DataPage, TdiInfoData.Size);
        Assert.Equal((uint)TdiFirmwareState.BindLocked << 2, BinaryPrimitives.ReadUInt32LittleEndian(data[TdiInfoData.P1..]) & 0xC);           // tdi_status, p1 bits 2-3
        Assert.Equal(9u, BinaryPrimitives.ReadUInt32LittleEndian(data[TdiInfoData.Asid..]));
        Assert.Equal(0x0101u, BinaryPrimitives.ReadUInt32LittleEndian(data[TdiInfoData.InterfaceId..]));
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(data[TdiInfoData.P2..]));                                                       // NO_FW_UPDATE

        Assert.Equal(PspStatus.InvalidGuestState, psp.Command(PspCommandId.TdiBind, Bind(gctx9, 0x18, 1, 0)));  // locked: only run
        Assert.Equal(PspStatus.InvalidParam, psp.Command(PspCommandId.TdiBind, Bind(gctx9, 0x19, 1, 1)));       // run for another guest_device_id
        Assert.Equal(PspStatus.InvalidGuest, psp.Command(PspCommandId.TdiBind, Bind(gctx10, 0x18, 1, 1)));      // run for another guest
        Assert.Equal(PspStatus.Success, psp.Command(PspCommandId.TdiBind, Bind(gctx9, 0x18, 1, 1)));
        Assert.Equal(TdiFirmwareState.BindRun, psp.StateOf(0x0101));
        Assert.Equal(PspStatus.InvalidGuestState, psp.Command(PspCommandId.TdiBind, Bind(gctx9, 0x18, 1, 1)));

        var tdiReclaim = Buf(PspCommandBuffer.TdiReclaim.Size);
        BinaryPrimitives.WriteUInt64LittleEndian(tdiReclaim.AsSpan(PspCommandBuffer.TdiReclaim.DevCtxSla), d.DevCtx);
        BinaryPrimitives.WriteUInt64LittleEndian(tdiReclaim.AsSpan(PspCommandBuffer.TdiReclaim.TdiCtxSla), tdiPage);
        Assert.Equal(PspStatus.InvalidGuestState, psp.Command(PspCommandId.TdiReclaim, tdiReclaim));   // still bound
        var disconnect = Buf(PspCommandBuffer.DevDisconnect.Size);
        d.FillSpdmCtrl(disconnect.AsSpan(PspCommandBuffer.DevDisconnect.SpdmCtrl));
        BinaryPrimitives.WriteUInt64LittleEndian(disconnect.AsSpan(PspCommandBuffer.DevDisconnect.DevCtxSla), d.DevCtx);
        Assert.Equal(PspStatus.InvalidGuestState, psp.Command(PspCommandId.DevDisconnect, disconnect)); // has a TDI
        BinaryPrimitives.WriteUInt32LittleEndian(disconnect.AsSpan(PspCommandBuffer.DevDisconnect.Flags), 2);
        Assert.Equal(PspStatus.InvalidParam, psp.Command(PspCommandId.DevDisconnect, disconnect));      // only b0 force is defined
        Assert.Equal(PspStatus.InvalidGuest, psp.Command(PspCommandId.TdiUnbind, Unbind(gctx10)));
        Assert.Equal(PspStatus.Success, psp.Command(PspCommandId.TdiUnbind, Unbind(gctx9)));

        Assert.Equal(PspStatus.Success, psp.Command(PspCommandId.TdiBind, Bind(gctx10, 0x18, 1, 1)));   // run from unbound: lock and start in one
        Assert.Equal(TdiFirmwareState.BindRun, psp.StateOf(0x0101));
        Assert.Equal(PspStatus.Success, psp.Command(PspCommandId.TdiUnbind, Unbind(gctx10)));

        BinaryPrimitives.WriteUInt64LittleEndian(tdiReclaim.AsSpan(PspCommandBuffer.TdiReclaim.DevCtxSla), Page(rig));
        Assert.Equal(PspStatus.InvalidParam, psp.Command(PspCommandId.TdiReclaim, tdiReclaim));          // not this TDI's device
        BinaryPrimitives.WriteUInt64LittleEndian(tdiReclaim.AsSpan(PspCommandBuffer.TdiReclaim.DevCtxSla), d.DevCtx);
        Assert.Equal(PspStatus.Success, psp.Command(PspCommandId.TdiReclaim, tdiReclaim));
        Assert.Equal(PspStatus.InvalidParam, psp.Command(PspCommandId.TdiReclaim, tdiReclaim));
    }

    [Fact]
    public void UnimplementedCommand_IsInvalidCommand()
    {
        var rig = new SevRig();
        Assert.Equal(PspStatus.InvalidCommand, rig.Tsm.Psp.Command(PspCommandId.RollKey, Buf(PspCommandBuffer.RollKey.Size)));
        Assert.Equal(PspStatus.InvalidCommand, rig.Tsm.Psp.Command(PspCommandId.AsidFenceClear, Buf(PspCommandBuffer.AsidFenceClear.Size)));
        Assert.Equal(PspStatus.InvalidCommand, rig.Tsm.Psp.Command((PspCommandId)0x42, Buf(16)));
    }

    [Fact]
    public void GuestRequest_WithAnotherGuestsContext_IsInvalidGuest()
    {
        var rig = new SevRig();
        Assert.True(rig.Guest.Lock().IsOk);
        var s = (SevTdiState)rig.Function.Tdi!.PlatformState!;
        var c = Buf(PspCommandBuffer.GuestRequest.Size);
        s.Device.FillSpdmCtrl(c.AsSpan(PspCommandBuffer.GuestRequest.SpdmCtrl));
        BinaryPrimitives.WriteUInt64LittleEndian(c.AsSpan(PspCommandBuffer.GuestRequest.DevCtxSla), s.Device.DevCtx);
        BinaryPrimitives.WriteUInt64LittleEndian(c.AsSpan(PspCommandBuffer.GuestRequest.TdiCtxSla), s.TdiCtx);
        ulong other = rig.Tsm.Memory.Allocate(1);
        Assert.Equal(PspStatus.Success, rig.Tsm.Psp.SnpLaunchStart(other, rig.Asid + 1));
        BinaryPrimitives.WriteUInt64LittleEndian(c.AsSpan(PspCommandBuffer.GuestRequest.Gctx), other);
        Assert.Equal(PspStatus.InvalidGuest, rig.Tsm.Psp.Command(PspCommandId.GuestRequest, c));
        BinaryPrimitives.WriteUInt64LittleEndian(c.AsSpan(PspCommandBuffer.GuestRequest.Gctx), rig.Asid);                                  // an ASID is not a guest context page
        Assert.Equal(PspStatus.InvalidGuest, rig.Tsm.Psp.Command(PspCommandId.GuestRequest, c));
        BinaryPrimitives.WriteUInt64LittleEndian(c.AsSpan(PspCommandBuffer.GuestRequest.Gctx), s.Gctx);
        Assert.Equal(PspStatus.InvalidAddress, rig.Tsm.Psp.Command(PspCommandId.GuestRequest, c));   // req/res paddr 0
        BinaryPrimitives.WriteUInt64LittleEndian(c.AsSpan(PspCommandBuffer.GuestRequest.DevCtxSla), SlaAddress.Data(other));
        Assert.Equal(PspStatus.InvalidParam, rig.Tsm.Psp.Command(PspCommandId.GuestRequest, c));
        BinaryPrimitives.WriteUInt64LittleEndian(c.AsSpan(PspCommandBuffer.GuestRequest.SpdmCtrl), SlaAddress.Null);
        Assert.Equal(PspStatus.InvalidParam, rig.Tsm.Psp.Command(PspCommandId.GuestRequest, c));
    }

    [Fact]
    public void DevMeasurements_RawBitstreamWithNonce_PutsTheNonceFirst_DigestFormAndReservedFlags_AreInvalidParam()
    {
        var rig = new SevRig();
        var d = rig.Tsm.BuffersOf(rig.Function.Dsm)!;
        var c = Buf(PspCommandBuffer.DevMeasurements.Size);
        d.FillSpdmCtrl(c.AsSpan(PspCommandBuffer.DevMeasurements.SpdmCtrl));
        BinaryPrimitives.WriteUInt64LittleEndian(c.AsSpan(PspCommandBuffer.DevMeasurements.DevCtxSla), d.DevCtx);
        Assert.Equal(PspStatus.InvalidParam, rig.Tsm.Psp.Command(PspCommandId.DevMeasurements, c));   // raw_bitstream 0: digest form, not modelled
        BinaryPrimitives.WriteUInt32LittleEndian(c.AsSpan(PspCommandBuffer.DevMeasurements.Flags), 3);
        Assert.Equal(PspStatus.InvalidParam, rig.Tsm.Psp.Command(PspCommandId.DevMeasurements, c));
        BinaryPrimitives.WriteUInt32LittleEndian(c.AsSpan(PspCommandBuffer.DevMeasurements.Flags), PspCommandBuffer.DevMeasurements.FlagRawBitstream);
        c.AsSpan(PspCommandBuffer.DevMeasurements.Nonce, 32).Fill(0xAB);
        Assert.Equal(PspStatus.Success, rig.Tsm.Psp.Command(PspCommandId.DevMeasurements, c));
        var blob = d.ReadObject(SpdmDataObject.IdMeasurement)!;
        Assert.True(blob.AsSpan(0, 32).IndexOfAnyExcept((byte)0xAB) < 0);
        Assert.Equal(1, blob[32]);   // first DMTF block: index 1
        Assert.Null(d.ReadObject(SpdmDataObject.IdCertificate));
    }

    [Fact]
    public void DevDisconnect_Force_DisconnectsWithoutKeyTraffic()
    {
        var rig = new SevRig();
        var d = rig.Tsm.BuffersOf(rig.Function.Dsm)!;
        var doe = rig.Device;
        var c = Buf(PspCommandBuffer.DevDisconnect.Size);
        d.FillSpdmCtrl(c.AsSpan(PspCommandBuffer.DevDisconnect.SpdmCtrl));
        BinaryPrimitives.WriteUInt64LittleEndian(c.AsSpan(PspCommandBuffer.DevDisconnect.DevCtxSla), d.DevCtx);
        BinaryPrimitives.WriteUInt32LittleEndian(c.AsSpan(PspCommandBuffer.DevDisconnect.Flags), PspCommandBuffer.DevDisconnect.FlagForce);
        Assert.True(doe.IdeKeys.IsStreamReady(0));
        Assert.Equal(PspStatus.Success, rig.Tsm.Psp.Command(PspCommandId.DevDisconnect, c));
        Assert.True(doe.IdeKeys.IsStreamReady(0));                                                   // no KEY_SET_STOP reached the device
        var reclaim = Buf(PspCommandBuffer.DevReclaim.Size);
        BinaryPrimitives.WriteUInt64LittleEndian(reclaim.AsSpan(PspCommandBuffer.DevReclaim.DevCtxSla), d.DevCtx);
        Assert.Equal(PspStatus.Success, rig.Tsm.Psp.Command(PspCommandId.DevReclaim, reclaim));
        Assert.Equal(PspStatus.InvalidParam, rig.Tsm.Psp.Command(PspCommandId.DevReclaim, reclaim));
    }
}
