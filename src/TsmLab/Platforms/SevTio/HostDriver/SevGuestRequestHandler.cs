using TsmLab.Abi;
using TsmLab.Kernel.Tsm;
using TsmLab.Platforms.SevTio.Firmware;
using TsmLab.Platforms.SevTio.Abi;
using TsmLab.Tdisp.Wire;
using System.Buffers.Binary;

namespace TsmLab.Platforms.SevTio.HostDriver;

/// <summary>Forwards one encrypted SEV-TIO guest request to the PSP.</summary>
/// <remarks>
/// guest_req for the SEV envelope (SevGuestRequestPayload, TsmLab definition). Order of checks:
/// payload reserved word (EINVAL); response buffer &lt; 16 (EINVAL); request page copy-in (EFAULT);
/// header's msg_type not one the op carries (EINVAL, firmware not called); VALIDATE_MMIO with the
/// validate bit: page count 0 or above the bound (EINVAL), then RMPUPDATE of the pages to the
/// guest; TDI_INFO with CERTS/MEAS/REPORT: evidence fetched with DEV_MEASUREMENTS (the guest's
/// nonce from its data pages), DEV_CERTIFICATES, TDI_REPORT, and when the data pages are too small
/// ENOSPC with needed_npages and tsm_code = INVALID_LEN &lt;&lt; 32 (the message is not forwarded,
/// so the guest may resend it); SEV_CMD_TIO_GUEST_REQUEST (a PSP failure: EIO, tsm_code = status);
/// the sealed response page copied out (EFAULT); DMA ops notify the IOMMU; the 16-byte answer. RDX
/// out: the PSP never sees the guest's RDX [S5,S7]. For TDI_INFO with STATE the host asks the
/// firmware for the TDISP state with TDI_STATUS after the message was served, and returns it in
/// param_out, from which the VMM (standing for KVM, which sets RDX in the public series) answers.
/// </remarks>
internal static class SevGuestRequestHandler
{
    private const int PageSize = SnpGuestMessage.PageSize;

    public static int Forward(SevTioLinkTsm drv, TsmTdi tdi, SevTdiState s, ref TsmGuestRequest request)
    {
        var p = request.Request;
        if (BinaryPrimitives.ReadUInt32LittleEndian(p[SevGuestRequestPayload.Reserved..]) != 0) return Errno.EINVAL.Neg();
        if (request.ResponseLength < SevGuestResponsePayload.Size || request.ResponseUptr == 0) return Errno.EINVAL.Neg();
        ulong param = BinaryPrimitives.ReadUInt64LittleEndian(p[SevGuestRequestPayload.Param..]);
        uint asid = (uint)tdi.Vm.Id;

        var reqPage = drv.Memory.At(drv.RequestPage, PageSize);
        int rc = request.Memory.CopyFromUser(reqPage, BinaryPrimitives.ReadUInt64LittleEndian(p[SevGuestRequestPayload.ReqUptr..]));
        if (rc < 0) return rc;
        drv.Observe("request page", reqPage);
        var type = (SnpMsgType)reqPage[SnpGuestMessage.TypeOffset];
        bool fits = request.Op switch
        {
            TsmReqOp.SevTdiInfo => type == SnpMsgType.TdiInfoRequest,
            TsmReqOp.ValidateMmio => type is SnpMsgType.MmioValidateRequest or SnpMsgType.MmioConfigRequest,
            TsmReqOp.SevEnableDma or TsmReqOp.SevDisableDma => type == SnpMsgType.SdteWriteRequest,
            _ => false,
        };
        if (!fits) return Errno.EINVAL.Neg();

        if (type == SnpMsgType.MmioValidateRequest && (param & 1) != 0)
        {
            uint pages = BinaryPrimitives.ReadUInt32LittleEndian(p[SevGuestRequestPayload.MmioNpages..]);
            if (pages == 0 || pages > SevGuestRequestPayload.MaxMmioPages) return Errno.EINVAL.Neg();
            ulong pa = BinaryPrimitives.ReadUInt64LittleEndian(p[SevGuestRequestPayload.MmioPa..]), gpa = BinaryPrimitives.ReadUInt64LittleEndian(p[SevGuestRequestPayload.MmioGpa..]);
            if (((pa | gpa) & 0xFFF) != 0) return Errno.EINVAL.Neg();
            bool mmio = drv.IsDeviceMmio(tdi.Function, pa, pages);
            for (uint i = 0; i < pages; i++)
                drv.Rmp.Update(pa + (ulong)i * 4096, asid, (gpa >> 12) + i, mmio);
        }

        if (type == SnpMsgType.TdiInfoRequest && (param & (ulong)(TdiInfoParam.Certs | TdiInfoParam.Meas | TdiInfoParam.Report)) != 0)
        {
            int erc = WriteEvidence(drv, s, ref request, p, (TdiInfoParam)param);
            if (erc != 0) return erc;
        }

        var c = drv.Cmd(PspCommandBuffer.GuestRequest.Size);
        s.Device.FillSpdmCtrl(c[PspCommandBuffer.GuestRequest.SpdmCtrl..]);
        BinaryPrimitives.WriteUInt64LittleEndian(c[PspCommandBuffer.GuestRequest.DevCtxSla..], s.Device.DevCtx);
        BinaryPrimitives.WriteUInt64LittleEndian(c[PspCommandBuffer.GuestRequest.TdiCtxSla..], s.TdiCtx);
        BinaryPrimitives.WriteUInt64LittleEndian(c[PspCommandBuffer.GuestRequest.Gctx..], s.Gctx);
        BinaryPrimitives.WriteUInt64LittleEndian(c[PspCommandBuffer.GuestRequest.ReqPaddr..], drv.RequestPage);
        BinaryPrimitives.WriteUInt64LittleEndian(c[PspCommandBuffer.GuestRequest.ResPaddr..], drv.ResponsePage);
        var st = drv.SpdmCommand(s.Device, PspCommandId.GuestRequest, c, PspCommandBuffer.GuestRequest.SpdmCtrl);
        request.TsmCode = (ulong)st;
        if (st != PspStatus.Success) return Errno.EIO.Neg();
        ulong paramOut = 0;
        if (type == SnpMsgType.TdiInfoRequest && (param & (ulong)TdiInfoParam.State) != 0)
            paramOut = (ulong)(drv.TdispState(s) ?? TdiState.Error);
        request.StateChanged = type != SnpMsgType.TdiInfoRequest;

        var resPage = drv.Memory.At(drv.ResponsePage, PageSize);
        drv.Observe("response page", resPage);
        rc = request.Memory.CopyToUser(BinaryPrimitives.ReadUInt64LittleEndian(p[SevGuestRequestPayload.RespUptr..]), resPage);
        if (rc < 0) return rc;
        if (request.Op is TsmReqOp.SevEnableDma or TsmReqOp.SevDisableDma)
            drv.Iommu.SecureDteChanged(tdi.Function.Address.RequesterId);
        return Answer(ref request, paramOut, 0, st);
    }

    private static int Answer(ref TsmGuestRequest request, ulong paramOut, uint needed, PspStatus st)
    {
        Span<byte> a = stackalloc byte[SevGuestResponsePayload.Size];
        BinaryPrimitives.WriteUInt64LittleEndian(a[SevGuestResponsePayload.ParamOut..], paramOut);
        BinaryPrimitives.WriteUInt32LittleEndian(a[SevGuestResponsePayload.NeededNpages..], needed);
        BinaryPrimitives.WriteUInt32LittleEndian(a[SevGuestResponsePayload.FwError..], (uint)st);
        return request.Respond(a);
    }

    /// <summary>Fetches the asked-for evidence from the PSP and lays the blob table into the guest's data pages.</summary>
    private static int WriteEvidence(SevTioLinkTsm drv, SevTdiState s, ref TsmGuestRequest request, ReadOnlySpan<byte> p, TdiInfoParam want)
    {
        ulong data = BinaryPrimitives.ReadUInt64LittleEndian(p[SevGuestRequestPayload.DataUptr..]);
        uint npages = BinaryPrimitives.ReadUInt32LittleEndian(p[SevGuestRequestPayload.DataNpages..]);
        if (npages > SevGuestRequestPayload.MaxDataPages) return Errno.EINVAL.Neg();
        var blobs = new List<(Guid Guid, byte[] Bytes)>(3);
        if ((want & TdiInfoParam.Meas) != 0)
        {
            var c = drv.Cmd(PspCommandBuffer.DevMeasurements.Size);
            BinaryPrimitives.WriteUInt32LittleEndian(c[PspCommandBuffer.DevMeasurements.Flags..], PspCommandBuffer.DevMeasurements.FlagRawBitstream);
            if (data != 0 && request.Memory.CopyFromUser(c.Slice(PspCommandBuffer.DevMeasurements.Nonce, 32), data) < 0) return Errno.EFAULT.Neg();
            s.Device.FillSpdmCtrl(c[PspCommandBuffer.DevMeasurements.SpdmCtrl..]);
            BinaryPrimitives.WriteUInt64LittleEndian(c[PspCommandBuffer.DevMeasurements.DevCtxSla..], s.Device.DevCtx);
            if (Out(drv, s, c, PspCommandId.DevMeasurements, PspCommandBuffer.DevMeasurements.SpdmCtrl, SpdmDataObject.IdMeasurement, ref request, out var m) is var e1 && e1 != 0) return e1;
            blobs.Add((EvidenceBlobTable.Measurements, m));
        }
        if ((want & TdiInfoParam.Certs) != 0)
        {
            var c = drv.Cmd(PspCommandBuffer.DevCertificates.Size);
            s.Device.FillSpdmCtrl(c[PspCommandBuffer.DevCertificates.SpdmCtrl..]);
            BinaryPrimitives.WriteUInt64LittleEndian(c[PspCommandBuffer.DevCertificates.DevCtxSla..], s.Device.DevCtx);
            if (Out(drv, s, c, PspCommandId.DevCertificates, PspCommandBuffer.DevCertificates.SpdmCtrl, SpdmDataObject.IdCertificate, ref request, out var m) is var e2 && e2 != 0) return e2;
            blobs.Add((EvidenceBlobTable.Certificates, m));
        }
        if ((want & TdiInfoParam.Report) != 0)
        {
            var c = drv.Cmd(PspCommandBuffer.TdiReport.Size);
            s.Device.FillSpdmCtrl(c[PspCommandBuffer.TdiReport.SpdmCtrl..]);
            BinaryPrimitives.WriteUInt64LittleEndian(c[PspCommandBuffer.TdiReport.DevCtxSla..], s.Device.DevCtx);
            BinaryPrimitives.WriteUInt64LittleEndian(c[PspCommandBuffer.TdiReport.TdiCtxSla..], s.TdiCtx);
            BinaryPrimitives.WriteUInt64LittleEndian(c[PspCommandBuffer.TdiReport.Gctx..], s.Gctx);
            if (Out(drv, s, c, PspCommandId.TdiReport, PspCommandBuffer.TdiReport.SpdmCtrl, SpdmDataObject.IdReport, ref request, out var m) is var e3 && e3 != 0) return e3;
            blobs.Add((EvidenceBlobTable.Report, m));
        }
        var table = EvidenceBlobTable.Build(blobs);
        uint needed = (uint)((table.Length + PageSize - 1) / PageSize);
        if (needed > npages || data == 0)
        {
            request.TsmCode = SevTsmCode.InvalidLength;
            int arc = Answer(ref request, 0, needed, PspStatus.Success);
            return arc < 0 ? arc : Errno.ENOSPC.Neg();
        }
        drv.Observe("evidence blobs", table);
        int rc = request.Memory.CopyToUser(data, table);
        return rc < 0 ? rc : 0;
    }

    /// <summary>Runs an output-producing command and reads its object out of spdm_ctrl.output (EIO when the PSP refused or left no such object).</summary>
    private static int Out(SevTioLinkTsm drv, SevTdiState s, Span<byte> c, PspCommandId id, int spdmCtrl, uint objectId, ref TsmGuestRequest request, out byte[] bytes)
    {
        bytes = [];
        var st = drv.SpdmCommand(s.Device, id, c, spdmCtrl);
        if (st != PspStatus.Success)
        {
            request.TsmCode = (ulong)st;
            return Errno.EIO.Neg();
        }
        if (s.Device.ReadObject(objectId) is not { } data) return Errno.EIO.Neg();
        bytes = data;
        return 0;
    }
}
