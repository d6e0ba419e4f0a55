using TsmLab.Tdisp.Wire;
using TsmLab.Platforms.SevTio.Abi;
using TsmLab.Platforms.SevTio.Firmware;
using TsmLab.Platforms.SevTio.HostDriver;
using System.Buffers.Binary;

namespace TsmLab.Tests.Platforms.SevTio;

/// <summary>
/// The host driver's side of the public PSP interface [S5]: donated context pages, the spdm_ctrl
/// buffers, output objects read back and grown on EXPAND_BUFFER_LENGTH_REQUEST, and RDX set by the
/// host (not the PSP) for TDI_INFO's STATE [S7].
/// </summary>
public sealed class SevHostPspBufferTests
{
    [Fact]
    public void Connect_DonatesAContextPage_AndFourSpdmBuffers_WithTheirCapacity()
    {
        var rig = new SevRig();
        var d = rig.Tsm.BuffersOf(rig.Function.Dsm)!;
        Assert.True(SlaAddress.TryDecode(d.DevCtx, out ulong ctx, out bool scatter, out _) && !scatter);
        Assert.True(rig.Tsm.Memory.TryPage(ctx, out _));
        Assert.True(SlaAddress.TryDecode(d.Output, out _, out bool outScatter, out _) && outScatter);          // 64 KiB: a scatter list
        Assert.Equal(PspFirmware.SpdmOutputMax, d.OutputLength);
        Assert.Equal(PspStatus.Success, SlaBuffer.TryOpen(rig.Tsm.Memory, d.Output, out var output));
        Span<byte> cap = stackalloc byte[4];
        output.Read(SlaBufferHeader.CapacitySz, cap);
        Assert.Equal((uint)PspFirmware.SpdmOutputMax, BinaryPrimitives.ReadUInt32LittleEndian(cap));
        var resp = rig.Tsm.Memory.At(SlaAddress.Data(d.Resp), 0x50);
        Assert.Equal(SpdmDataObject.IdResp, BinaryPrimitives.ReadUInt32LittleEndian(resp[(0x40 + SpdmDataObject.Id)..]));                          // dobj_response_init
        Assert.Equal(PspCommandId.DevConnect, rig.Tsm.Psp.Log.Last(c => c is PspCommandId.DevCreate or PspCommandId.DevConnect));
    }

    [Fact]
    public void OutputTooSmall_IsExpanded_AndTheCommandRunsAgain()
    {
        var rig = new SevRig();
        var d = rig.Tsm.BuffersOf(rig.Function.Dsm)!;
        d.UseOutput(SevDeviceBuffers.Alloc(rig.Tsm.Memory, 4096), 256);
        var c = new byte[PspCommandBuffer.DevCertificates.Size];
        BinaryPrimitives.WriteUInt32LittleEndian(c, (uint)c.Length);
        d.FillSpdmCtrl(c.AsSpan(PspCommandBuffer.DevCertificates.SpdmCtrl));
        BinaryPrimitives.WriteUInt64LittleEndian(c.AsSpan(PspCommandBuffer.DevCertificates.DevCtxSla), d.DevCtx);
        int before = rig.Tsm.Psp.Log.Count;
        Assert.Equal(PspStatus.Success, rig.Tsm.SpdmCommand(d, PspCommandId.DevCertificates, c, PspCommandBuffer.DevCertificates.SpdmCtrl));
        Assert.Equal(2, rig.Tsm.Psp.Log.Count - before);                                                       // EXPAND, then again
        Assert.Equal(4096, d.OutputLength);
        Assert.Equal(d.Output, BinaryPrimitives.ReadUInt64LittleEndian(c.AsSpan(PspCommandBuffer.DevCertificates.SpdmCtrl + PspCommandBuffer.SpdmCtrl.Output)));
        Assert.Equal(rig.Device.Identity.SpdmCertificateChain(), d.ReadObject(SpdmDataObject.IdCertificate));
    }

    [Fact]
    public void TdiInfoState_IsReadByTheHostWithTdiStatus_AfterThePspServedTheMessage()
    {
        var rig = new SevRig();
        Assert.True(rig.Guest.Lock().IsOk);
        int before = rig.Tsm.Psp.Log.Count;
        Assert.True(rig.Guest.Info(TdiInfoParam.State).IsOk);
        Assert.Equal([PspCommandId.GuestRequest, PspCommandId.TdiStatus], rig.Tsm.Psp.Log.Skip(before));
        Assert.Equal(TdiState.ConfigLocked, rig.Guest.Evidence!.TdispState);
        before = rig.Tsm.Psp.Log.Count;
        Assert.True(rig.Guest.Info(TdiInfoParam.None).IsOk);
        Assert.Equal([PspCommandId.GuestRequest], rig.Tsm.Psp.Log.Skip(before));                              // no STATE, no TDI_STATUS
    }

    [Fact]
    public void Unbind_And_Disconnect_GiveTheDonatedPagesBack()
    {
        var rig = new SevRig();
        rig.Accepted();
        var s = (SevTdiState)rig.Function.Tdi!.PlatformState!;
        Assert.True(SlaAddress.TryDecode(s.TdiCtx, out ulong tdiPage, out _, out _));
        Assert.True(rig.Guest.Unlock().IsOk);
        Assert.False(rig.Tsm.Memory.TryPage(tdiPage, out _));
        var d = rig.Tsm.BuffersOf(rig.Function.Dsm)!;
        Assert.True(SlaAddress.TryDecode(d.DevCtx, out ulong devPage, out _, out _));
        rig.Tsm.Disconnect(rig.Function.Dsm);
        Assert.Null(rig.Tsm.BuffersOf(rig.Function.Dsm));
        Assert.False(rig.Tsm.Memory.TryPage(devPage, out _));
        Assert.Equal([PspCommandId.DevDisconnect, PspCommandId.DevReclaim], rig.Tsm.Psp.Log.TakeLast(2));
    }
}
