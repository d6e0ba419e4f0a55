using TsmLab.Hardware;
using TsmLab.Abi;
using TsmLab.Platforms.SevTio.Firmware;
using TsmLab.Tdisp.Requester;
using TsmLab.Platforms.SevTio.Abi;
using TsmLab.Platforms.SevTio.HostDriver;
using TsmLab.Platforms.SevTio.Vmm;
using TsmLab.Platforms.SevTio.Kvm;
using TsmLab.Platforms.SevTio.Guest;

namespace TsmLab.Tests.Platforms.SevTio;

/// <summary>The PSP's command statuses, driven through its mailbox as the host driver does.</summary>
public sealed class PspCommandTests
{
    private const ulong Dev0 = 0x5EC0_0000_0000, Tdi0 = 0x5EC1_0000_0000;

    private static byte[] Buf(int size, int? lengthField = null)
    {
        var b = new byte[size];
        Le.Put32(b, 0, (uint)(lengthField ?? size));
        return b;
    }

    private sealed class NoRoute : IPspDeviceRoute
    {
        public ITdispTransport? Transport(uint deviceId) => null;
        public SpdmCollateral? Collateral(uint deviceId) => null;
    }

    [Fact]
    public void BeforeInit_IsInvalidPlatformState_AndInitTwiceToo()
    {
        var psp = new PspFirmware(new NoRoute(), new PhysicalMemory(0x1_0000_0000), new Rmp());
        var status = Buf(PspCommandBuffer.TioStatus.Size);
        Assert.Equal(PspStatus.Success, psp.Command(PspCommandId.TioStatus, status));
        Assert.Equal(0u, Le.U32(status, PspCommandBuffer.TioStatus.OutFlags));
        Assert.Equal(PspStatus.InvalidPlatformState, psp.Command(PspCommandId.DevCreate, Buf(PspCommandBuffer.DevCreate.Size)));
        Assert.Equal(PspStatus.Success, psp.Command(PspCommandId.TioInit, Buf(PspCommandBuffer.TioInit.Size)));
        Assert.Equal(PspStatus.InvalidPlatformState, psp.Command(PspCommandId.TioInit, Buf(PspCommandBuffer.TioInit.Size)));
        Assert.Equal(PspStatus.InvalidParam, psp.Command(PspCommandId.DevCreate, Buf(PspCommandBuffer.DevCreate.Size)));   // no DOE route to device 0
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
    public void OutputTooSmall_IsInvalidLength_WithTheNeededLength_BadAddress_IsInvalidAddress()
    {
        var rig = new SevRig();
        var psp = rig.Tsm.Psp;
        ulong page = rig.Tsm.Memory.Allocate(1);
        var c = Buf(PspCommandBuffer.DevCertificates.Size);
        Le.Put64(c, PspCommandBuffer.DevCertificates.DevCtx, Dev0);
        Le.Put64(c, PspCommandBuffer.DevCertificates.OutPaddr, page);
        Le.Put32(c, PspCommandBuffer.DevCertificates.OutLen, 10);
        Assert.Equal(PspStatus.InvalidLength, psp.Command(PspCommandId.DevCertificates, c));
        uint needed = Le.U32(c, PspCommandBuffer.DevCertificates.OutLen);
        Assert.True(needed > 500);
        Assert.True(rig.Tsm.Memory.At(page, 4096).IndexOfAnyExcept((byte)0) < 0);
        Le.Put32(c, PspCommandBuffer.DevCertificates.OutLen, 4096);
        Le.Put64(c, PspCommandBuffer.DevCertificates.OutPaddr, 0x1234);
        Assert.Equal(PspStatus.InvalidAddress, psp.Command(PspCommandId.DevCertificates, c));
        Le.Put64(c, PspCommandBuffer.DevCertificates.OutPaddr, page);
        Assert.Equal(PspStatus.Success, psp.Command(PspCommandId.DevCertificates, c));
        Assert.Equal(needed, Le.U32(c, PspCommandBuffer.DevCertificates.OutLen));
    }

    [Fact]
    public void ContextAndStateErrors()
    {
        var rig = new SevRig();
        var psp = rig.Tsm.Psp;
        var dev = Buf(PspCommandBuffer.DevCtxOnly.Size);
        Le.Put64(dev, PspCommandBuffer.DevCtxOnly.DevCtx, Dev0);
        Assert.Equal(PspStatus.InvalidGuestState, psp.Command(PspCommandId.DevConnect, dev));     // connected at boot
        Assert.Equal(PspStatus.InvalidGuestState, psp.Command(PspCommandId.DevReclaim, dev));     // still connected

        var create = Buf(PspCommandBuffer.DevCreate.Size);
        Le.Put32(create, PspCommandBuffer.DevCreate.DeviceId, 0x0100);
        Assert.Equal(PspStatus.AlreadyOwned, psp.Command(PspCommandId.DevCreate, create));

        var status = Buf(PspCommandBuffer.DevStatus.Size);
        Le.Put64(status, PspCommandBuffer.DevStatus.DevCtx, Dev0 + 7);
        Assert.Equal(PspStatus.InvalidParam, psp.Command(PspCommandId.DevStatus, status));
        Le.Put64(status, PspCommandBuffer.DevStatus.DevCtx, Dev0);
        Assert.Equal(PspStatus.Success, psp.Command(PspCommandId.DevStatus, status));
        Assert.Equal(PspCommandBuffer.DevStatus.Connected, Le.U32(status, PspCommandBuffer.DevStatus.OutFlags));

        var tdi = Buf(PspCommandBuffer.TdiCreate.Size);
        Le.Put64(tdi, PspCommandBuffer.TdiCreate.DevCtx, Dev0);
        Le.Put32(tdi, PspCommandBuffer.TdiCreate.FunctionId, 0x0101);
        Assert.Equal(PspStatus.InvalidGuest, psp.Command(PspCommandId.TdiCreate, tdi));          // ASID 0
        Le.Put32(tdi, PspCommandBuffer.TdiCreate.Asid, 9);
        Assert.Equal(PspStatus.Success, psp.Command(PspCommandId.TdiCreate, tdi));
        Assert.Equal(PspStatus.AlreadyOwned, psp.Command(PspCommandId.TdiCreate, tdi));
        ulong ctx = Le.U64(tdi, PspCommandBuffer.TdiCreate.OutTdiCtx);
        Assert.Equal(Tdi0, ctx);
        Le.Put32(tdi, PspCommandBuffer.TdiCreate.FunctionId, 0x0102);                            // same guest RID (0) for ASID 9
        Assert.Equal(PspStatus.AlreadyOwned, psp.Command(PspCommandId.TdiCreate, tdi));

        var one = Buf(PspCommandBuffer.TdiCtxOnly.Size);
        Le.Put64(one, PspCommandBuffer.TdiCtxOnly.TdiCtx, ctx);
        Assert.Equal(PspStatus.InvalidGuestState, psp.Command(PspCommandId.TdiUnbind, one));      // not bound
        var bind = Buf(PspCommandBuffer.TdiBind.Size);
        Le.Put64(bind, PspCommandBuffer.TdiBind.TdiCtx, ctx);
        Le.Put32(bind, PspCommandBuffer.TdiBind.Flags, PspCommandBuffer.TdiBind.FlagRun);
        Assert.Equal(PspStatus.InvalidGuestState, psp.Command(PspCommandId.TdiBind, bind));       // RUN before lock
        Le.Put32(bind, PspCommandBuffer.TdiBind.Flags, 0x40);
        Assert.Equal(PspStatus.InvalidParam, psp.Command(PspCommandId.TdiBind, bind));
        Le.Put32(bind, PspCommandBuffer.TdiBind.Flags, 0);
        Assert.Equal(PspStatus.Success, psp.Command(PspCommandId.TdiBind, bind));
        Assert.Equal(PspStatus.InvalidGuestState, psp.Command(PspCommandId.TdiReclaim, one));     // still bound
        Assert.Equal(PspStatus.InvalidGuestState, psp.Command(PspCommandId.DevDisconnect, dev));  // has a TDI
        var info = Buf(PspCommandBuffer.TdiInfo.Size);
        Le.Put64(info, PspCommandBuffer.TdiInfo.TdiCtx, ctx);
        Assert.Equal(PspStatus.Success, psp.Command(PspCommandId.TdiInfo, info));
        Assert.Equal((uint)TdiFirmwareState.BindLocked << 2, Le.U32(info, PspCommandBuffer.TdiInfo.OutP1));
        Assert.Equal(PspStatus.Success, psp.Command(PspCommandId.TdiUnbind, one));
        Assert.Equal(PspStatus.Success, psp.Command(PspCommandId.TdiReclaim, one));
        Assert.Equal(PspStatus.InvalidParam, psp.Command(PspCommandId.TdiReclaim, one));
    }

    [Fact]
    public void UnimplementedCommand_IsInvalidCommand()
    {
        var rig = new SevRig();
        Assert.Equal(PspStatus.InvalidCommand, rig.Tsm.Psp.Command(PspCommandId.RollKey, Buf(16)));
        Assert.Equal(PspStatus.InvalidCommand, rig.Tsm.Psp.Command((PspCommandId)0x42, Buf(16)));
    }

    [Fact]
    public void GuestRequest_WithAnotherGuestsContext_IsInvalidGuest()
    {
        var rig = new SevRig();
        Assert.True(rig.Guest.Lock().IsOk);
        var c = Buf(PspCommandBuffer.GuestRequest.Size);
        Le.Put64(c, PspCommandBuffer.GuestRequest.DevCtx, Dev0);
        Le.Put64(c, PspCommandBuffer.GuestRequest.TdiCtx, Tdi0);
        Le.Put64(c, PspCommandBuffer.GuestRequest.Gctx, rig.Asid + 1);
        Assert.Equal(PspStatus.InvalidGuest, rig.Tsm.Psp.Command(PspCommandId.GuestRequest, c));
        Le.Put64(c, PspCommandBuffer.GuestRequest.Gctx, rig.Asid);
        Assert.Equal(PspStatus.InvalidAddress, rig.Tsm.Psp.Command(PspCommandId.GuestRequest, c));
        Le.Put64(c, PspCommandBuffer.GuestRequest.DevCtx, Dev0 + 1);
        Assert.Equal(PspStatus.InvalidParam, rig.Tsm.Psp.Command(PspCommandId.GuestRequest, c));
    }

    [Fact]
    public void DevMeasurements_WithNonce_PutsItFirst_AndReservedFlags_AreInvalidParam()
    {
        var rig = new SevRig();
        ulong page = rig.Tsm.Memory.Allocate(1);
        var c = Buf(PspCommandBuffer.DevMeasurements.Size);
        Le.Put64(c, PspCommandBuffer.DevMeasurements.DevCtx, Dev0);
        Le.Put32(c, PspCommandBuffer.DevMeasurements.Flags, 2);
        Assert.Equal(PspStatus.InvalidParam, rig.Tsm.Psp.Command(PspCommandId.DevMeasurements, c));
        Le.Put32(c, PspCommandBuffer.DevMeasurements.Flags, PspCommandBuffer.DevMeasurements.FlagNonce);
        c.AsSpan(PspCommandBuffer.DevMeasurements.Nonce, 32).Fill(0xAB);
        Le.Put64(c, PspCommandBuffer.DevMeasurements.OutPaddr, page);
        Le.Put32(c, PspCommandBuffer.DevMeasurements.OutLen, 4096);
        Assert.Equal(PspStatus.Success, rig.Tsm.Psp.Command(PspCommandId.DevMeasurements, c));
        var blob = rig.Tsm.Memory.At(page, (int)Le.U32(c, PspCommandBuffer.DevMeasurements.OutLen));
        Assert.True(blob[..32].IndexOfAnyExcept((byte)0xAB) < 0);
        Assert.Equal(1, blob[32]);   // first DMTF block: index 1
    }
}
