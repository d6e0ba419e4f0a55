using System.Text;
using TsmLab.Platforms.SevTio.Firmware;

namespace TsmLab.Platforms.SevTio.Abi;

/// <summary>The SEV-TIO ABI tables.</summary>
/// <remarks>
/// The SEV-TIO interfaces as printable tables (tsmlab abi --platform sev), built from the constants
/// the PSP model, the host driver, KVM, the VMM and the guest use. Names are the public sources'
/// spellings: the host driver sev-dev-tio.c [S5], psp-sev.h [S6], the guest patch [S1] and tio.c
/// [S2], snp_guest_msg_hdr [S3], Linux struct ghcb [G1]. What no public source defines is marked.
/// </remarks>
public static class SevTioAbiTables
{
    /// <summary>The pinned revision: the host driver and its psp-sev.h at one commit, the guest series beside it.</summary>
    public const string Revision = "aik/linux aa4f5cf5c459007d63ab6d0e199978a66de90284 (sev-dev-tio.c/.h, psp-sev.h); psp-sev.h 35da7a04205d1399c43b69129e61c6efc5af419d; guest: SEV TIO phase2 patch (2026-02-25) and the later tio.c (msg_version 2)";

    /// <summary>The header name of a PSP TIO command (SEV_CMD_TIO_*).</summary>
    public static string CommandName(PspCommandId id)
    {
        var snake = Snake(id.ToString());
        return "SEV_CMD_TIO_" + (snake.StartsWith("TIO_", StringComparison.Ordinal) ? snake[4..] : snake);
    }

    private static string Snake(string pascal)
    {
        var sb = new StringBuilder();
        foreach (char c in pascal)
        {
            if (char.IsUpper(c) && sb.Length > 0) sb.Append('_');
            sb.Append(char.ToUpperInvariant(c));
        }
        return sb.ToString();
    }

    private static (string, ulong) E<T>(string name, T value) where T : Enum => (name, Convert.ToUInt64(value, System.Globalization.CultureInfo.InvariantCulture));

    public static PlatformAbi Build() => new(
        "sev",
        Revision,
        [
            "aik/linux drivers/crypto/ccp/sev-dev-tio.c, sev-dev-tio.h @ aa4f5cf: every sev_data_tio_* buffer, sla_addr_t, sla_buffer_hdr, spdm_dobj_hdr_*, sev_tio_status, sev_tio_dev_status, sev_tio_tdi_info_data [S5]",
            "aik/linux include/uapi/linux/psp-sev.h @ aa4f5cf (and @ 35da7a0): sev_ret_code [S6]",
            "SEV TIO phase2 guest patch, 2026-02-25 (svm.h exits, sev.h msg types, tio_blob_table_entry) [S1]; drivers/virt/coco/sev-guest/tio.c, msg_version 2 [S2]",
            "snp_guest_msg_hdr (sev-guest.h) [S3]; Linux struct ghcb (asm/svm.h) [G1]; KVM sets RDX for SEV-TIO guest requests [S7]",
        ],
        [
            .. Enum.GetValues<PspCommandId>().Select(id => new PlatformCall("PSP", CommandName(id), (ulong)id)),
            new("GHCB", "SVM_VMGEXIT_SEV_TIO_GUEST_REQUEST", SevTioExit.GuestRequest),
            new("GHCB", "SVM_VMGEXIT_SEV_TIO_OP", SevTioExit.TioOp),
            new("SNP_MSG", "TIO_MSG_TDI_INFO_REQ", (ulong)SnpMsgType.TdiInfoRequest),
            new("SNP_MSG", "TIO_MSG_TDI_INFO_RSP", (ulong)SnpMsgType.TdiInfoResponse),
            new("SNP_MSG", "TIO_MSG_MMIO_VALIDATE_REQ", (ulong)SnpMsgType.MmioValidateRequest),
            new("SNP_MSG", "TIO_MSG_MMIO_VALIDATE_RSP", (ulong)SnpMsgType.MmioValidateResponse),
            new("SNP_MSG", "TIO_MSG_MMIO_CONFIG_REQ", (ulong)SnpMsgType.MmioConfigRequest),
            new("SNP_MSG", "TIO_MSG_MMIO_CONFIG_RSP", (ulong)SnpMsgType.MmioConfigResponse),
            new("SNP_MSG", "TIO_MSG_SDTE_WRITE_REQ", (ulong)SnpMsgType.SdteWriteRequest),
            new("SNP_MSG", "TIO_MSG_SDTE_WRITE_RSP", (ulong)SnpMsgType.SdteWriteResponse),
            new("KVM", "KVM_EXIT_SEV_TIO (TsmLab)", KvmRunSevTio.ExitSevTio, TsmLabDefinition: true),
        ],
        [
            PlatformEnum.Of("sev_ret_code", false,
                E("SEV_RET_SUCCESS", PspStatus.Success), E("SEV_RET_INVALID_PLATFORM_STATE", PspStatus.InvalidPlatformState),
                E("SEV_RET_INVALID_GUEST_STATE", PspStatus.InvalidGuestState), E("SEV_RET_INVALID_LEN", PspStatus.InvalidLength),
                E("SEV_RET_ALREADY_OWNED", PspStatus.AlreadyOwned), E("SEV_RET_INVALID_ADDRESS", PspStatus.InvalidAddress),
                E("SEV_RET_INVALID_GUEST", PspStatus.InvalidGuest), E("SEV_RET_INVALID_COMMAND", PspStatus.InvalidCommand),
                E("SEV_RET_INVALID_PARAM", PspStatus.InvalidParam), E("SEV_RET_EXPAND_BUFFER_LENGTH_REQUEST", PspStatus.ExpandBufferLengthRequest),
                E("SEV_RET_SPDM_REQUEST", PspStatus.SpdmRequest), E("SEV_RET_SPDM_ERROR", PspStatus.SpdmError)),
            PlatformEnum.Of("sev_tio_tdi_info_data.tdi_status", false,
                ("TDI_UNBOUND", (ulong)TdiFirmwareState.Unbound), ("TDI_BIND_LOCKED", (ulong)TdiFirmwareState.BindLocked), ("TDI_BIND_RUN", (ulong)TdiFirmwareState.BindRun)),
            PlatformEnum.Of("TIO_TDISP_STATE", false,
                ("TIO_TDISP_STATE_CONFIG_UNLOCKED", 0), ("TIO_TDISP_STATE_CONFIG_LOCKED", 1), ("TIO_TDISP_STATE_RUN", 2), ("TIO_TDISP_STATE_ERROR", 3)),
            PlatformEnum.Of("SPDM_DOBJ_ID", false,
                ("SPDM_DOBJ_ID_NONE", SpdmDataObject.IdNone), ("SPDM_DOBJ_ID_REQ", SpdmDataObject.IdReq), ("SPDM_DOBJ_ID_RESP", SpdmDataObject.IdResp),
                ("SPDM_DOBJ_ID_CERTIFICATE", SpdmDataObject.IdCertificate), ("SPDM_DOBJ_ID_MEASUREMENT", SpdmDataObject.IdMeasurement),
                ("SPDM_DOBJ_ID_REPORT", SpdmDataObject.IdReport)),
            PlatformEnum.Of("sla_addr_t", false,
                ("SLA_PAGE_TYPE_DATA", 0), ("SLA_PAGE_TYPE_SCATTER", 1), ("SLA_PAGE_SIZE_4K", 0), ("SLA_PAGE_SIZE_2M", 1), ("SLA_EOL", SlaAddress.Eol)),
            PlatformEnum.Of("SEV_TIO_OP", false,
                E("SVM_VMGEXIT_SEV_TIO_OP_BIND", SevTioAction.Bind), E("SVM_VMGEXIT_SEV_TIO_OP_UNBIND", SevTioAction.Unbind),
                E("SVM_VMGEXIT_SEV_TIO_OP_RUN", SevTioAction.Run), E("SVM_VMGEXIT_SEV_TIO_OP_STOP", SevTioAction.Stop)),
            PlatformEnum.Of("SVM_VMGEXIT_SEV_TIO_GR_INFO", false,
                E("SVM_VMGEXIT_SEV_TIO_GR_INFO_STATE", TdiInfoParam.State), E("SVM_VMGEXIT_SEV_TIO_GR_INFO_CERTS", TdiInfoParam.Certs),
                E("SVM_VMGEXIT_SEV_TIO_GR_INFO_MEAS", TdiInfoParam.Meas), E("SVM_VMGEXIT_SEV_TIO_GR_INFO_REPORT", TdiInfoParam.Report)),
            PlatformEnum.Of("TIO_MSG_TDI_INFO_RSP_STATUS", false,
                E("TIO_MSG_TDI_INFO_RSP_STATUS_BOUND", TdiInfoStatus.Bound), E("TIO_MSG_TDI_INFO_RSP_STATUS_INVALID", TdiInfoStatus.Invalid),
                E("TIO_MSG_TDI_INFO_RSP_STATUS_UNBOUND", TdiInfoStatus.Unbound)),
            PlatformEnum.Of("mmio_validate_status", false,
                E("MMIO_VALIDATE_SUCCESS", MmioValidateStatus.Success), E("MMIO_VALIDATE_INVALID_TDI", MmioValidateStatus.InvalidTdi),
                E("MMIO_VALIDATE_TDI_UNBOUND", MmioValidateStatus.TdiUnbound), E("MMIO_VALIDATE_NOT_ASSIGNED", MmioValidateStatus.NotAssigned),
                E("MMIO_VALIDATE_NOT_IO", MmioValidateStatus.NotIo), E("MMIO_VALIDATE_NOT_UNIFORM", MmioValidateStatus.NotUniform),
                E("MMIO_VALIDATE_NOT_IMMUTABLE", MmioValidateStatus.NotImmutable), E("MMIO_VALIDATE_NOT_MAPPED", MmioValidateStatus.NotMapped),
                E("MMIO_VALIDATE_NOT_REPORTED", MmioValidateStatus.NotReported), E("MMIO_VALIDATE_OUT_OF_RANGE", MmioValidateStatus.OutOfRange),
                E("MMIO_VALIDATE_NOT_4K", MmioValidateStatus.Not4K)),
            PlatformEnum.Of("sdte_write_status", false,
                E("SDTE_WRITE_SUCCESS", SdteWriteStatus.Success), E("SDTE_WRITE_INVALID_TDI", SdteWriteStatus.InvalidTdi),
                E("SDTE_WRITE_TDI_NOT_BOUND", SdteWriteStatus.TdiNotBound), E("SDTE_WRITE_RESERVED", SdteWriteStatus.Reserved)),
            PlatformEnum.Of("mmio_config_status (TsmLab)", true,
                E("MMIO_CONFIG_SUCCESS", MmioConfigStatus.Success), E("MMIO_CONFIG_INVALID_TDI", MmioConfigStatus.InvalidTdi),
                E("MMIO_CONFIG_TDI_NOT_BOUND", MmioConfigStatus.TdiNotBound), E("MMIO_CONFIG_RESERVED", MmioConfigStatus.Reserved),
                E("MMIO_CONFIG_NOT_REPORTED", MmioConfigStatus.NotReported), E("MMIO_CONFIG_DEVICE_REFUSED", MmioConfigStatus.DeviceRefused)),
            PlatformEnum.Of("snp_guest_msg_hdr.msg_version (TIO)", false, ("TIO_MESSAGE_VERSION (phase2 patch [S1], option)", TioMessageVersion.Feb2026), ("msg_version = 2 (tio.c [S2], default)", TioMessageVersion.Current)),
        ],
        [.. CommandBuffers(), .. FirmwareStructures(), .. GuestStructures()]);

    private static IEnumerable<PlatformStruct> CommandBuffers()
    {
        const int Ctrl = PspCommandBuffer.SpdmCtrl.Size;
        yield return PlatformStruct.Of("sev_data_tio_status", PspCommandBuffer.TioStatus.Size, false, ("length", 0, 4), ("status_paddr", PspCommandBuffer.TioStatus.StatusPaddr, 8));
        yield return PlatformStruct.Of("sev_data_tio_init", PspCommandBuffer.TioInit.Size, false, ("length", 0, 4), ("reserved", 4, 12));
        yield return PlatformStruct.Of("sev_data_tio_dev_create", PspCommandBuffer.DevCreate.Size, false, ("length", 0, 4),
            ("dev_ctx_sla", PspCommandBuffer.DevCreate.DevCtxSla, 8), ("device_id", PspCommandBuffer.DevCreate.DeviceId, 2),
            ("root_port_id", PspCommandBuffer.DevCreate.RootPortId, 2), ("segment_id", PspCommandBuffer.DevCreate.SegmentId, 1));
        yield return PlatformStruct.Of("sev_data_tio_dev_connect", PspCommandBuffer.DevConnect.Size, false, ("length", 0, 4),
            ("spdm_ctrl", PspCommandBuffer.DevConnect.SpdmCtrl, Ctrl), ("dev_ctx_sla", PspCommandBuffer.DevConnect.DevCtxSla, 8),
            ("tc_mask", PspCommandBuffer.DevConnect.TcMask, 1), ("cert_slot", PspCommandBuffer.DevConnect.CertSlot, 1),
            ("ide_stream_id", PspCommandBuffer.DevConnect.IdeStreamId, PspCommandBuffer.DevConnect.IdeStreamIds));
        yield return PlatformStruct.Of("sev_data_tio_dev_disconnect", PspCommandBuffer.DevDisconnect.Size, false, ("length", 0, 4),
            ("flags", PspCommandBuffer.DevDisconnect.Flags, 4), ("spdm_ctrl", PspCommandBuffer.DevDisconnect.SpdmCtrl, Ctrl), ("dev_ctx_sla", PspCommandBuffer.DevDisconnect.DevCtxSla, 8));
        yield return PlatformStruct.Of("sev_data_tio_dev_meas", PspCommandBuffer.DevMeasurements.Size, false, ("length", 0, 4),
            ("flags", PspCommandBuffer.DevMeasurements.Flags, 4), ("spdm_ctrl", PspCommandBuffer.DevMeasurements.SpdmCtrl, Ctrl),
            ("dev_ctx_sla", PspCommandBuffer.DevMeasurements.DevCtxSla, 8), ("meas_nonce", PspCommandBuffer.DevMeasurements.Nonce, 32));
        yield return PlatformStruct.Of("sev_data_tio_dev_certs", PspCommandBuffer.DevCertificates.Size, false, ("length", 0, 4),
            ("spdm_ctrl", PspCommandBuffer.DevCertificates.SpdmCtrl, Ctrl), ("dev_ctx_sla", PspCommandBuffer.DevCertificates.DevCtxSla, 8));
        yield return PlatformStruct.Of("sev_data_tio_dev_reclaim", PspCommandBuffer.DevReclaim.Size, false, ("length", 0, 4), ("dev_ctx_sla", PspCommandBuffer.DevReclaim.DevCtxSla, 8));
        yield return PlatformStruct.Of("sev_data_tio_dev_status", PspCommandBuffer.DevStatus.Size, false, ("length", 0, 4),
            ("dev_ctx_paddr", PspCommandBuffer.DevStatus.DevCtxSla, 8), ("status_length", PspCommandBuffer.DevStatus.StatusLength, 4), ("status_paddr", PspCommandBuffer.DevStatus.StatusPaddr, 8));
        yield return PlatformStruct.Of("sev_data_tio_tdi_create", PspCommandBuffer.TdiCreate.Size, false, ("length", 0, 4),
            ("dev_ctx_sla", PspCommandBuffer.TdiCreate.DevCtxSla, 8), ("tdi_ctx_sla", PspCommandBuffer.TdiCreate.TdiCtxSla, 8), ("interface_id", PspCommandBuffer.TdiCreate.InterfaceId, TdispInterfaceId.Size));
        yield return PlatformStruct.Of("sev_data_tio_tdi_reclaim", PspCommandBuffer.TdiReclaim.Size, false, ("length", 0, 4),
            ("dev_ctx_sla", PspCommandBuffer.TdiReclaim.DevCtxSla, 8), ("tdi_ctx_sla", PspCommandBuffer.TdiReclaim.TdiCtxSla, 8));
        yield return PlatformStruct.Of("sev_data_tio_tdi_bind", PspCommandBuffer.TdiBind.Size, false, ("length", 0, 4),
            ("spdm_ctrl", PspCommandBuffer.TdiBind.SpdmCtrl, Ctrl), ("dev_ctx_sla", PspCommandBuffer.TdiBind.DevCtxSla, 8), ("tdi_ctx_sla", PspCommandBuffer.TdiBind.TdiCtxSla, 8),
            ("gctx_paddr", PspCommandBuffer.TdiBind.Gctx, 8), ("guest_device_id", PspCommandBuffer.TdiBind.GuestDeviceId, 2),
            ("tdisp_lock_if.flags", PspCommandBuffer.TdiBind.LockFlags, 2), ("run (b0)", PspCommandBuffer.TdiBind.RunWord, 2));
        foreach (var name in (string[])["sev_data_tio_tdi_unbind", "sev_data_tio_tdi_report"])
            yield return PlatformStruct.Of(name, PspCommandBuffer.TdiUnbind.Size, false, ("length", 0, 4),
                ("spdm_ctrl", PspCommandBuffer.TdiUnbind.SpdmCtrl, Ctrl), ("dev_ctx_sla", PspCommandBuffer.TdiUnbind.DevCtxSla, 8),
                ("tdi_ctx_sla", PspCommandBuffer.TdiUnbind.TdiCtxSla, 8), ("gctx_paddr", PspCommandBuffer.TdiUnbind.Gctx, 8));
        yield return PlatformStruct.Of("sev_data_tio_tdi_status", PspCommandBuffer.TdiStatus.Size, false, ("length", 0, 4),
            ("spdm_ctrl", PspCommandBuffer.TdiStatus.SpdmCtrl, Ctrl), ("dev_ctx_sla", PspCommandBuffer.TdiStatus.DevCtxSla, 8),
            ("tdi_ctx_sla", PspCommandBuffer.TdiStatus.TdiCtxSla, 8), ("status_paddr", PspCommandBuffer.TdiStatus.StatusPaddr, 8));
        yield return PlatformStruct.Of("sev_data_tio_tdi_info", PspCommandBuffer.TdiInfo.Size, false, ("length", 0, 4),
            ("dev_ctx_sla", PspCommandBuffer.TdiInfo.DevCtxSla, 8), ("tdi_ctx_sla", PspCommandBuffer.TdiInfo.TdiCtxSla, 8), ("status_paddr", PspCommandBuffer.TdiInfo.StatusPaddr, 8));
        yield return PlatformStruct.Of("sev_data_tio_guest_request", PspCommandBuffer.GuestRequest.Size, false, ("length", 0, 4),
            ("spdm_ctrl", PspCommandBuffer.GuestRequest.SpdmCtrl, Ctrl), ("dev_ctx_sla", PspCommandBuffer.GuestRequest.DevCtxSla, 8),
            ("tdi_ctx_sla", PspCommandBuffer.GuestRequest.TdiCtxSla, 8), ("gctx_paddr", PspCommandBuffer.GuestRequest.Gctx, 8),
            ("req_paddr", PspCommandBuffer.GuestRequest.ReqPaddr, 8), ("res_paddr", PspCommandBuffer.GuestRequest.ResPaddr, 8));
        yield return PlatformStruct.Of("sev_data_tio_asid_fence_clear", PspCommandBuffer.AsidFenceClear.Size, false, ("length", 0, 4),
            ("gctx_paddr", PspCommandBuffer.AsidFenceClear.Gctx, 8), ("device_id", PspCommandBuffer.AsidFenceClear.DeviceId, 2), ("segment_id", PspCommandBuffer.AsidFenceClear.SegmentId, 1));
        yield return PlatformStruct.Of("sev_data_tio_asid_fence_status", PspCommandBuffer.AsidFenceStatus.Size, false, ("length", 0, 4),
            ("asid", PspCommandBuffer.AsidFenceStatus.Asid, 4), ("status_pa", PspCommandBuffer.AsidFenceStatus.StatusPaddr, 8),
            ("device_id", PspCommandBuffer.AsidFenceStatus.DeviceId, 2), ("segment_id", PspCommandBuffer.AsidFenceStatus.SegmentId, 1));
        yield return PlatformStruct.Of("sev_data_tio_roll_key", PspCommandBuffer.RollKey.Size, false, ("length", 0, 4),
            ("spdm_ctrl", PspCommandBuffer.RollKey.SpdmCtrl, Ctrl), ("dev_ctx_sla", PspCommandBuffer.RollKey.DevCtxSla, 8));
    }

    private static IEnumerable<PlatformStruct> FirmwareStructures()
    {
        yield return PlatformStruct.Of("sla_addr_t", 8, false, ("page_type (b0) | page_size (b1) | pfn (b12-51)", 0, 8));
        yield return PlatformStruct.Of("spdm_ctrl", PspCommandBuffer.SpdmCtrl.Size, false, ("req", PspCommandBuffer.SpdmCtrl.Req, 8),
            ("resp", PspCommandBuffer.SpdmCtrl.Resp, 8), ("scratch", PspCommandBuffer.SpdmCtrl.Scratch, 8), ("output", PspCommandBuffer.SpdmCtrl.Output, 8));
        yield return PlatformStruct.Of("sla_buffer_hdr", SlaBufferHeader.Size, false, ("capacity_sz", SlaBufferHeader.CapacitySz, 4),
            ("payload_sz", SlaBufferHeader.PayloadSz, 4), ("flags", SlaBufferHeader.Flags, 4), ("iv", SlaBufferHeader.Iv, 16), ("authtag", SlaBufferHeader.Authtag, 16));
        yield return PlatformStruct.Of("spdm_dobj_hdr_req / spdm_dobj_hdr_resp", SpdmDataObject.RequestHeaderSize, false, ("hdr.id", SpdmDataObject.Id, 4),
            ("hdr.length", SpdmDataObject.Length, 4), ("hdr.version", SpdmDataObject.VersionMinor, 2), ("data_type", SpdmDataObject.DataType, 1));
        yield return PlatformStruct.Of("spdm_dobj_hdr_cert / _meas / _report", SpdmDataObject.ObjectHeaderSize, false, ("hdr.id", SpdmDataObject.Id, 4),
            ("hdr.length", SpdmDataObject.Length, 4), ("hdr.version", SpdmDataObject.VersionMinor, 2), ("device_id", SpdmDataObject.DeviceId, 2),
            ("segment_id", SpdmDataObject.SegmentId, 1), ("type", SpdmDataObject.Type, 1));
        yield return PlatformStruct.Of("tdisp_interface_id", TdispInterfaceId.Size, false, ("function_id", TdispInterfaceId.FunctionId, 4), ("reserved", 4, 8));
        yield return PlatformStruct.Of("sev_tio_status", TioStatusData.Size, false, ("length", TioStatusData.Length, 4), ("flags", TioStatusData.Flags, 4),
            ("spdm_req_size_min", TioStatusData.SpdmReqSizeMin, 4), ("spdm_req_size_max", TioStatusData.SpdmReqSizeMax, 4),
            ("spdm_scratch_size_min", TioStatusData.SpdmScratchSizeMin, 4), ("spdm_scratch_size_max", TioStatusData.SpdmScratchSizeMax, 4),
            ("spdm_out_size_min", TioStatusData.SpdmOutSizeMin, 4), ("spdm_out_size_max", TioStatusData.SpdmOutSizeMax, 4),
            ("spdm_rsp_size_min", TioStatusData.SpdmRspSizeMin, 4), ("spdm_rsp_size_max", TioStatusData.SpdmRspSizeMax, 4),
            ("devctx_size", TioStatusData.DevctxSize, 4), ("tdictx_size", TioStatusData.TdictxSize, 4));
        yield return PlatformStruct.Of("sev_tio_dev_status", DevStatusData.Size, false, ("length", DevStatusData.Length, 4), ("ctx_state", DevStatusData.CtxState, 1),
            ("p1", DevStatusData.P1, 1), ("certs_slot", DevStatusData.CertsSlot, 1), ("device_id", DevStatusData.DeviceId, 2), ("segment_id", DevStatusData.SegmentId, 1),
            ("tc_mask", DevStatusData.TcMask, 1), ("request_pending_command", DevStatusData.RequestPendingCommand, 2),
            ("request_pending_interface_id", DevStatusData.RequestPendingInterfaceId, TdispInterfaceId.Size), ("p2", DevStatusData.P2, 1),
            ("ide_stream_id", DevStatusData.IdeStreamId, 8), ("certs_digest", DevStatusData.CertsDigest, 48), ("meas_digest", DevStatusData.MeasDigest, 48),
            ("tdi_count", DevStatusData.TdiCount, 4), ("bound_tdi_count", DevStatusData.BoundTdiCount, 4));
        yield return PlatformStruct.Of("sev_tio_tdi_info_data", TdiInfoData.Size, false, ("length", TdiInfoData.Length, 4), ("interface_id", TdiInfoData.InterfaceId, TdispInterfaceId.Size),
            ("p1", TdiInfoData.P1, 4), ("p2", TdiInfoData.P2, 4), ("spdm_algos", TdiInfoData.SpdmAlgos, 8), ("certs_digest", TdiInfoData.CertsDigest, 48),
            ("meas_digest", TdiInfoData.MeasDigest, 48), ("interface_report_digest", TdiInfoData.InterfaceReportDigest, 48),
            ("intf_report_counter", TdiInfoData.IntfReportCounter, 8), ("asid", TdiInfoData.Asid, 4));
        yield return PlatformStruct.Of("sev_tio_tdi_status_data", TdiStatusData.Size, false, ("length", TdiStatusData.Length, 4), ("tdisp_state", TdiStatusData.TdispState, 1));
    }

    private static IEnumerable<PlatformStruct> GuestStructures()
    {
        yield return PlatformStruct.Of("snp_guest_msg_hdr", SnpGuestMessage.HeaderSize, false, ("authtag", SnpGuestMessage.AuthTagOffset, 32),
            ("msg_seqno", SnpGuestMessage.SeqnoOffset, 8), ("algo", SnpGuestMessage.AlgoOffset, 1), ("hdr_version", SnpGuestMessage.HeaderVersionOffset, 1),
            ("hdr_sz", SnpGuestMessage.HeaderSizeOffset, 2), ("msg_type", SnpGuestMessage.TypeOffset, 1), ("msg_version", SnpGuestMessage.VersionOffset, 1),
            ("msg_sz", SnpGuestMessage.SizeOffset, 2), ("msg_vmpck", SnpGuestMessage.VmpckOffset, 1));
        yield return PlatformStruct.Of("tio_msg_tdi_info_req", TdiInfoMessage.RequestSize, false, ("tdi_id", TdiInfoMessage.TdiId, 8));
        yield return PlatformStruct.Of("tio_msg_tdi_info_rsp", TdiInfoMessage.ResponseSize, false, ("tdi_id", TdiInfoMessage.TdiId, 8), ("status", TdiInfoMessage.Status, 2),
            ("meas_digest_valid | meas_digest_fresh", TdiInfoMessage.MeasFlags, 4), ("no_fw_update … all_request_redirect", TdiInfoMessage.LockFlags, 4),
            ("spdm_algos", TdiInfoMessage.SpdmAlgos, 8), ("certs_digest", TdiInfoMessage.CertsDigest, 48), ("meas_digest", TdiInfoMessage.MeasDigest, 48),
            ("interface_report_digest", TdiInfoMessage.ReportDigest, 48), ("tdi_report_count", TdiInfoMessage.ReportCount, 8));
        yield return PlatformStruct.Of("tio_msg_mmio_validate_req / _rsp", MmioValidateMessage.Size, false, ("tdi_id", MmioValidateMessage.TdiId, 8),
            ("status (rsp)", MmioValidateMessage.Status, 2), ("subrange_base", MmioValidateMessage.SubrangeBase, 8), ("subrange_page_count", MmioValidateMessage.PageCount, 4),
            ("range_offset", MmioValidateMessage.RangeOffset, 4), ("validated | force_validated (req), changed (rsp)", MmioValidateMessage.Flags, 2), ("range_id", MmioValidateMessage.RangeId, 2));
        yield return PlatformStruct.Of("tio_msg_sdte_write_req", SdteWriteMessage.RequestSize, false, ("tdi_id", SdteWriteMessage.TdiId, 8), ("sdte", SdteWriteMessage.Sdte, Sdte.Size));
        yield return PlatformStruct.Of("tio_msg_sdte_write_rsp", SdteWriteMessage.ResponseSize, false, ("tdi_id", SdteWriteMessage.TdiId, 8), ("status", SdteWriteMessage.Status, 2));
        yield return PlatformStruct.Of("tio_msg_mmio_config_req / _rsp (TsmLab)", MmioConfigMessage.Size, true, ("tdi_id", MmioConfigMessage.TdiId, 8),
            ("status (rsp)", MmioConfigMessage.Status, 2), ("range_id", MmioConfigMessage.RangeId, 2), ("flags", MmioConfigMessage.Flags, 2), ("attributes", MmioConfigMessage.Attributes, 2));
        yield return PlatformStruct.Of("tio_blob_table_entry", EvidenceBlobTable.EntrySize, false, ("guid", 0, 16), ("offset", 16, 4), ("length", 20, 4));
        yield return PlatformStruct.Of("ghcb (SEV-TIO slots)", GhcbPage.Size, false, ("save.rax", GhcbPage.Rax, 8), ("save.rcx", GhcbPage.Rcx, 8),
            ("save.rdx", GhcbPage.Rdx, 8), ("save.rbx", GhcbPage.Rbx, 8), ("save.sw_exit_code", GhcbPage.SwExitCode, 8), ("save.sw_exit_info_1", GhcbPage.SwExitInfo1, 8),
            ("save.sw_exit_info_2", GhcbPage.SwExitInfo2, 8), ("save.valid_bitmap", GhcbPage.ValidBitmap, GhcbPage.ValidBitmapSize),
            ("protocol_version", GhcbPage.ProtocolVersion, 2), ("ghcb_usage", GhcbPage.Usage, 4));
        yield return PlatformStruct.Of("sev_tio_guest_req (TsmLab iommufd payload)", SevGuestRequestPayload.Size, true, ("req_uptr", SevGuestRequestPayload.ReqUptr, 8),
            ("resp_uptr", SevGuestRequestPayload.RespUptr, 8), ("data_uptr", SevGuestRequestPayload.DataUptr, 8), ("data_npages", SevGuestRequestPayload.DataNpages, 4),
            ("guest_rid", SevGuestRequestPayload.GuestRid, 4), ("param", SevGuestRequestPayload.Param, 8), ("mmio_gpa", SevGuestRequestPayload.MmioGpa, 8),
            ("mmio_pa", SevGuestRequestPayload.MmioPa, 8), ("mmio_npages", SevGuestRequestPayload.MmioNpages, 4), ("reserved", SevGuestRequestPayload.Reserved, 4));
        yield return PlatformStruct.Of("sev_tio_guest_resp (TsmLab iommufd answer)", SevGuestResponsePayload.Size, true, ("param_out", SevGuestResponsePayload.ParamOut, 8),
            ("needed_npages", SevGuestResponsePayload.NeededNpages, 4), ("fw_error", SevGuestResponsePayload.FwError, 4));
        yield return PlatformStruct.Of("kvm_run sev_tio exit (TsmLab)", KvmRunSevTio.Size, true, ("exit_reason", KvmRunSevTio.ExitReason, 4),
            ("sev_tio.exit_code", KvmRunSevTio.ExitCode, 8), ("sev_tio.ghcb_gpa", KvmRunSevTio.GhcbGpa, 8));
    }
}
