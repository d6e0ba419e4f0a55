using System.Security.Cryptography;
using TsmLab.Abi;
using TsmLab.Kernel;
using TsmLab.Platforms.SevTio.Guest;
using TsmLab.Platforms.SevTio.Firmware;
using TsmLab.Tdisp.Wire;
using TsmLab.Platforms.SevTio.Abi;
using System.Buffers.Binary;

namespace TsmLab.Tests.Platforms.SevTio;

/// <summary>The SEV link TSM's guest_req errno rows, driven by raw IOMMU_VDEVICE_TSM_REQ ioctls from the VMM process.</summary>
public sealed class SevHostDriverTests
{
    private static byte[] Envelope(ulong req, ulong resp, ulong param = 0, Action<byte[]>? edit = null)
    {
        var p = new byte[SevGuestRequestPayload.Size];
        BinaryPrimitives.WriteUInt64LittleEndian(p.AsSpan(SevGuestRequestPayload.ReqUptr), req);
        BinaryPrimitives.WriteUInt64LittleEndian(p.AsSpan(SevGuestRequestPayload.RespUptr), resp);
        BinaryPrimitives.WriteUInt32LittleEndian(p.AsSpan(SevGuestRequestPayload.GuestRid), SevRig.GuestAddress.GuestRid);
        BinaryPrimitives.WriteUInt64LittleEndian(p.AsSpan(SevGuestRequestPayload.Param), param);
        edit?.Invoke(p);
        return p;
    }

    private static (SevRig Rig, ulong Req, ulong Resp) Sealed(SnpMsgType type, int payloadLength)
    {
        var rig = new SevRig();
        Assert.True(rig.Guest.Lock().IsOk);
        var page = new byte[4096];
        var payload = new byte[payloadLength];
        BinaryPrimitives.WriteUInt64LittleEndian(payload, rig.Guest.TdiId);
        using var key = new AesGcm(rig.Tsm.Psp.LaunchGuest(rig.Asid)!, 16);
        SnpGuestMessage.Seal(key, page, rig.Guest.NextSeqno, type, TioMessageVersion.Current, 0, payload);
        rig.Ram.Write(SnpTioGuest.RequestGpa, page);
        return (rig, rig.Ram.HvaBase + SnpTioGuest.RequestGpa, rig.Ram.HvaBase + SnpTioGuest.ResponseGpa);
    }

    private static long Req(SevRig rig, TsmReqOp op, byte[] payload, int respLen, out ulong code) =>
        rig.Assignment.Calls.TsmRequest(rig.Assignment.IommuFd, rig.Assignment.VdeviceId, op, TvmArch.Sev, payload, respLen, out _, out code);

    [Fact]
    public void SetTdiState_OnlyRunAndUnlocked_LockedIsEinval()
    {
        var rig = new SevRig();
        Assert.True(rig.Guest.Op(SevTioAction.Bind).IsOk);
        var p = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(p, (uint)TdiState.ConfigLocked);
        Assert.Equal(Errno.EINVAL.Neg(), Req(rig, TsmReqOp.SetTdiState, p, 0, out _));
        BinaryPrimitives.WriteUInt32LittleEndian(p, (uint)TdiState.Run);
        Assert.Equal(0, Req(rig, TsmReqOp.SetTdiState, p, 0, out ulong code));
        Assert.Equal(0ul, code);
        Assert.Equal(Errno.EIO.Neg(), Req(rig, TsmReqOp.SetTdiState, p, 0, out code));          // RUN twice: the PSP refuses
        Assert.Equal((ulong)PspStatus.InvalidGuestState, code);
    }

    [Fact]
    public void EnvelopeChecks_LengthReservedResponseBuffer_AreEinval()
    {
        var (rig, req, resp) = Sealed(SnpMsgType.TdiInfoRequest, TdiInfoMessage.RequestSize);
        int before = rig.Tsm.Psp.Log.Count(c => c == PspCommandId.GuestRequest);
        Assert.Equal(Errno.EINVAL.Neg(), Req(rig, TsmReqOp.ValidateMmio, new byte[8], 16, out _));
        Assert.Equal(Errno.EINVAL.Neg(), Req(rig, TsmReqOp.SevTdiInfo, Envelope(req, resp, edit: p => BinaryPrimitives.WriteUInt32LittleEndian(p.AsSpan(SevGuestRequestPayload.Reserved), 1)), 16, out _));
        Assert.Equal(Errno.EINVAL.Neg(), Req(rig, TsmReqOp.SevTdiInfo, Envelope(req, resp), 8, out _));
        Assert.Equal(before, rig.Tsm.Psp.Log.Count(c => c == PspCommandId.GuestRequest));
        Assert.Equal(0, Req(rig, TsmReqOp.SevTdiInfo, Envelope(req, resp), 16, out ulong code));
        Assert.Equal(0ul, code);
    }

    /// <summary>TDI_INFO has its own SEV-tagged op (9): SET_TDI_STATE no longer carries a 64-byte envelope, and op 9 is SEV's only.</summary>
    [Fact]
    public void TdiInfo_TravelsUnderItsOwnSevOp_NotUnderSetTdiState()
    {
        var (rig, req, resp) = Sealed(SnpMsgType.TdiInfoRequest, TdiInfoMessage.RequestSize);
        int before = rig.Tsm.Psp.Log.Count(c => c == PspCommandId.GuestRequest);
        Assert.Equal(Errno.EINVAL.Neg(), Req(rig, TsmReqOp.SetTdiState, Envelope(req, resp), 16, out _));
        var calls = rig.Assignment.Calls;
        Assert.Equal(Errno.EINVAL.Neg(), calls.TsmRequest(rig.Assignment.IommuFd, rig.Assignment.VdeviceId, TsmReqOp.SevTdiInfo, TvmArch.Cca, Envelope(req, resp), 16, out _, out _));
        Assert.Equal(before, rig.Tsm.Psp.Log.Count(c => c == PspCommandId.GuestRequest));
        Assert.Equal(0, Req(rig, TsmReqOp.SevTdiInfo, Envelope(req, resp), 16, out _));
    }

    [Fact]
    public void MessageTypeNotCarriedByTheOp_IsEinval_FirmwareNotCalled()
    {
        var (rig, req, resp) = Sealed(SnpMsgType.TdiInfoRequest, TdiInfoMessage.RequestSize);
        int before = rig.Tsm.Psp.Log.Count(c => c == PspCommandId.GuestRequest);
        foreach (var op in new[] { TsmReqOp.SevEnableDma, TsmReqOp.SevDisableDma, TsmReqOp.ValidateMmio })
            Assert.Equal(Errno.EINVAL.Neg(), Req(rig, op, Envelope(req, resp), 16, out _));
        Assert.Equal(before, rig.Tsm.Psp.Log.Count(c => c == PspCommandId.GuestRequest));
    }

    [Fact]
    public void RequestPageFault_IsEfault_ResponsePageFault_IsEfaultAfterTheFirmwareRan()
    {
        var (rig, req, _) = Sealed(SnpMsgType.TdiInfoRequest, TdiInfoMessage.RequestSize);
        Assert.Equal(Errno.EFAULT.Neg(), Req(rig, TsmReqOp.SevTdiInfo, Envelope(0x5000_0000_0000, 0x5000_0000_0000), 16, out _));
        Assert.Equal(0, rig.Process.Memory.Map(0x5000_0000_0000, 4096, Prot.Read));
        ulong seqno = rig.Guest.NextSeqno;
        Assert.Equal(Errno.EFAULT.Neg(), Req(rig, TsmReqOp.SevTdiInfo, Envelope(req, 0x5000_0000_0000), 16, out ulong code));
        Assert.Equal(0ul, code);
        rig.Guest.NextSeqno = seqno + 2;    // the PSP consumed the message; its answer was lost
        Assert.True(rig.Guest.Info(TdiInfoParam.None).IsOk);
    }

    [Fact]
    public void MmioValidate_WithValidateBit_AndNoPages_IsEinval_AndAssignsNothing()
    {
        var (rig, req, resp) = Sealed(SnpMsgType.MmioValidateRequest, MmioValidateMessage.Size);
        Assert.Equal(Errno.EINVAL.Neg(), Req(rig, TsmReqOp.ValidateMmio, Envelope(req, resp, 1, p => BinaryPrimitives.WriteUInt64LittleEndian(p.AsSpan(SevGuestRequestPayload.MmioPa), 0xF000_0000)), 16, out _));
        Assert.Equal(Errno.EINVAL.Neg(), Req(rig, TsmReqOp.ValidateMmio, Envelope(req, resp, 1, p =>
        {
            BinaryPrimitives.WriteUInt64LittleEndian(p.AsSpan(SevGuestRequestPayload.MmioPa), 0xF000_0800);
            BinaryPrimitives.WriteUInt32LittleEndian(p.AsSpan(SevGuestRequestPayload.MmioNpages), 1);
        }), 16, out _));
        Assert.False(rig.Tsm.Rmp.Lookup(0xF000_0000).Assigned);
    }

    [Fact]
    public void DataPagesTooSmall_IsEnospc_WithNeededPages_AndTheGuestRetries()
    {
        var rig = new SevRig();
        rig.Guest.DataPages = 0;
        Assert.True(rig.Guest.Lock().IsOk);
        Assert.Equal(1, rig.Guest.DataPages);
        var failed = rig.Exits.First(e => e.Ghcb.Rbx == 0);
        Assert.NotNull(failed.Page);
        Assert.Equal(TdiInfoParam.State | TdiInfoParam.Certs | TdiInfoParam.Meas | TdiInfoParam.Report, (TdiInfoParam)failed.Ghcb.Rdx);

        var p = Envelope(rig.Ram.HvaBase + SnpTioGuest.RequestGpa, rig.Ram.HvaBase + SnpTioGuest.ResponseGpa, (ulong)TdiInfoParam.Certs);
        var calls = rig.Assignment.Calls;
        Assert.Equal(Errno.ENOSPC.Neg(), calls.TsmRequest(rig.Assignment.IommuFd, rig.Assignment.VdeviceId, TsmReqOp.SevTdiInfo, TvmArch.Sev, p, 16, out _, out ulong code));
        Assert.Equal(SevTsmCode.InvalidLength, code);
    }

    [Fact]
    public void DataPagesUnwritable_IsEfault_AndTheMessageIsNotForwarded()
    {
        var (rig, req, resp) = Sealed(SnpMsgType.TdiInfoRequest, TdiInfoMessage.RequestSize);
        Assert.Equal(0, rig.Process.Memory.Map(0x5000_0000_0000, 4096, Prot.Read));
        int before = rig.Tsm.Psp.Log.Count(c => c == PspCommandId.GuestRequest);
        var p = Envelope(req, resp, (ulong)TdiInfoParam.Certs, e => { BinaryPrimitives.WriteUInt64LittleEndian(e.AsSpan(SevGuestRequestPayload.DataUptr), 0x5000_0000_0000); BinaryPrimitives.WriteUInt32LittleEndian(e.AsSpan(SevGuestRequestPayload.DataNpages), 1); });
        Assert.Equal(Errno.EFAULT.Neg(), Req(rig, TsmReqOp.SevTdiInfo, p, 16, out _));
        p = Envelope(req, resp, (ulong)TdiInfoParam.Meas, e => { BinaryPrimitives.WriteUInt64LittleEndian(e.AsSpan(SevGuestRequestPayload.DataUptr), 0x5100_0000_0000); BinaryPrimitives.WriteUInt32LittleEndian(e.AsSpan(SevGuestRequestPayload.DataNpages), 1); });
        Assert.Equal(Errno.EFAULT.Neg(), Req(rig, TsmReqOp.SevTdiInfo, p, 16, out _));
        Assert.Equal(before, rig.Tsm.Psp.Log.Count(c => c == PspCommandId.GuestRequest));
    }

    [Fact]
    public void Bind_PspRefusal_IsEio_AndBindsNothing_ConnectWithoutDevice_IsEnodev()
    {
        var rig = new SevRig();
        var c = new byte[PspCommandBuffer.TdiCreate.Size];
        BinaryPrimitives.WriteUInt32LittleEndian(c, (uint)c.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(c.AsSpan(PspCommandBuffer.TdiCreate.DevCtxSla), rig.Tsm.BuffersOf(rig.Function.Dsm)!.DevCtx);
        BinaryPrimitives.WriteUInt64LittleEndian(c.AsSpan(PspCommandBuffer.TdiCreate.TdiCtxSla), SlaAddress.Data(rig.Tsm.Memory.Allocate(1)));
        BinaryPrimitives.WriteUInt32LittleEndian(c.AsSpan(PspCommandBuffer.TdiCreate.InterfaceId), 0x0100);
        Assert.Equal(PspStatus.Success, rig.Tsm.Psp.Command(PspCommandId.TdiCreate, c));     // another guest holds the function
        Assert.Equal(Errno.EIO.Neg(), rig.Assignment.Calls.TsmOp(rig.Assignment.IommuFd, rig.Assignment.VdeviceId, IommuVdeviceTsmOp.TypeBind));
        Assert.Null(rig.Function.Tdi);

        var config = TsmLab.Platforms.SevTio.SevTioHost.Configuration() with { Connects = [] };
        config = config with { Functions = [.. config.Functions.Select(f => f with { Doe = null })] };
        var kernel = HostKernel.Boot(config);
        Assert.Equal(Errno.ENODEV.Neg(), kernel.Tsm.Connect(kernel.Functions[0], "tsm0"));
    }

    [Fact]
    public void Vmm_UnknownRidOrExit_OrGpaOutsideRam_IsAGenericError()
    {
        var rig = new SevRig();
        var g = new GhcbFields { ExitCode = SevTioExit.TioOp, ExitInfo1 = 0x99 };
        rig.Vmm.Vmgexit(ref g);
        Assert.Equal(SevTsmCode.Generic, g.ExitInfo2);
        g = new GhcbFields { ExitCode = SevTioExit.GuestRequest, ExitInfo1 = 1ul << 40, ExitInfo2 = SnpTioGuest.ResponseGpa, Rcx = SevRig.GuestAddress.GuestRid };
        rig.Vmm.Vmgexit(ref g);
        Assert.Equal(SevTsmCode.Generic, g.ExitInfo2);
        g = new GhcbFields { ExitCode = SevTioExit.GuestRequest, ExitInfo1 = SnpTioGuest.RequestGpa, ExitInfo2 = SnpTioGuest.ResponseGpa, Rax = SnpTioGuest.DataGpa, Rbx = 65, Rcx = SevRig.GuestAddress.GuestRid };
        rig.Vmm.Vmgexit(ref g);
        Assert.Equal(SevTsmCode.Generic, g.ExitInfo2);
        g = new GhcbFields { ExitCode = 0x8000_0099 };
        rig.Vmm.Vmgexit(ref g);
        Assert.Equal(SevTsmCode.Generic, g.ExitInfo2);
        g = new GhcbFields { ExitCode = SevTioExit.TioOp, ExitInfo1 = (9ul << 32) | SevRig.GuestAddress.GuestRid };
        rig.Vmm.Vmgexit(ref g);
        Assert.Equal(SevTsmCode.Generic, g.ExitInfo2);
    }

    [Fact]
    public void Disconnect_UnbindsAndReclaims_InThePsp()
    {
        var rig = new SevRig();
        rig.Accepted();
        Assert.Equal(0, rig.Kernel.Tsm.Disconnect(rig.Function, "tsm0"));
        Assert.Null(rig.Function.Tdi);
        Assert.False(rig.Tsm.Iommu.SecureDmaEnabled(SevRig.FunctionId));
        Assert.Equal(0, rig.Tsm.Rmp.CountValidated(rig.Asid));
        Assert.Equal(PspCommandId.DevReclaim, rig.Tsm.Psp.Log[^1]);
        Assert.Equal(0, rig.Kernel.Tsm.Connect(rig.Function, "tsm0"));
    }
}
