namespace TsmLab.Platforms.Tdx.Abi;

/// <summary>
/// The TDX Connect interfaces as printable tables (<c>tsmlab abi --platform tdx</c>), built from
/// the constants the module, the host driver, KVM, the VMM and the guest use: every SEAMCALL and
/// TDCALL leaf with its provenance (docs/tdx.md), statuses [TX2,TX13], the TDI.RD fields and
/// states [TX17,TX18], the SPDM/IDE operations [TX5,TX6], TDVMCALL statuses [TX30], KVM_EXIT_TDX
/// [TX31]; TsmLab definitions are marked.
/// </summary>
public static class TdxAbiTables
{
    /// <summary>The pinned revision: the devsec tsm.git headers and the v1 SEAMCALL wrapper series.</summary>
    public const string Revision = "devsec tsm.git tdx.h 29838fc, tdx_errno.h 2632a8c, tdx-host.c 191928f; TDX Connect v1 series 2025-11-17; tdx-module a56a917 (Gen-1 numbers)";

    private static string Label(TdxLeaf l) => l.Provenance == LeafProvenance.Gen1TdxIo ? $"{l.Name} (Gen-1 TDX-IO number)" : l.Name;

    public static PlatformAbi Build() => new(
        "tdx",
        Revision,
        [
            "kernelorg-mirror/linux_kernel_git_devsec_tsm arch/x86/virt/vmx/tdx/tdx.h, asm/shared/tdx_errno.h, tdx_global_metadata.h, drivers/virt/coco/tdx-host/tdx-host.c [TX1–TX4]",
            "TDX Connect v1 SEAMCALL wrappers for SPDM and IDE (2025-11-17) [TX5,TX6]",
            "intel/tdx-module tdx_api_defs.h, tdx_error_codes_defs.h, tdxio handlers (Gen-1 TDX-IO) [TX12–TX14]",
            "Linux and OpenHCL TDX Connect guest code [TX17,TX18]; Linux asm/shared/tdx.h and uapi kvm.h [TX30,TX31]",
        ],
        [
            .. TdxLeaves.All.Select(l => new PlatformCall(l.Kind == TdxCallKind.Seamcall ? "SEAMCALL" : "TDCALL", Label(l), l.Number, l.Provenance == LeafProvenance.TsmLab)),
            new("TDVMCALL", "TDVMCALL_TDCM", Tdcm.SubFunction, TsmLabDefinition: true),
            new("KVM", "KVM_EXIT_TDX", KvmRunTdx.ExitTdx),
        ],
        [
            new("tdx_status", [.. TdxStatus.All.Select(s => KeyValuePair.Create(s.Name, s.Code))]),
            PlatformEnum.Of("tdg_tdi_rd_field", false, ("GET_TDISP_STATE", TdiReadField.TdispState), ("GET_TDISP_REPORT_HASH", TdiReadField.ReportHash),
                ("GET_BIND_SESSION_ID", TdiReadField.BindSessionId)),
            PlatformEnum.Of("tdg_tdi_rd_field (TsmLab)", true, ("GET_DEVICE_ATTESTATION_INFO_HASH", TdiReadField.DeviceAttestationInfoHash)),
            PlatformEnum.Of("tdi_state", false, ("CONFIG_UNLOCKED", TdiStateValue.ConfigUnlocked), ("CONFIG_LOCKED", TdiStateValue.ConfigLocked),
                ("RUN", TdiStateValue.Run), ("ERROR", TdiStateValue.Error)),
            PlatformEnum.Of("tdh_spdm_mng_op", false, ("HEARTBEAT", (ulong)SpdmMngOp.Heartbeat), ("KEY_UPDATE", (ulong)SpdmMngOp.KeyUpdate),
                ("DEV_INFO_RECOLLECT", (ulong)SpdmMngOp.DevInfoRecollect)),
            PlatformEnum.Of("tdh_ide_stream_km_op", false, ("SETUP", (ulong)IdeKmOp.Setup), ("REFRESH", (ulong)IdeKmOp.Refresh), ("STOP", (ulong)IdeKmOp.Stop)),
            PlatformEnum.Of("tdcs_config_flags", false, ("TDX_CONNECT", TdcsField.ConfigFlagTdxConnect), ("PAGE_RELEASE", TdcsField.ConfigFlagPageRelease)),
            PlatformEnum.Of("tdvmcall_status", false, ("SUCCESS", TdvmcallStatus.Success), ("RETRY", TdvmcallStatus.Retry),
                ("INVALID_OPERAND", TdvmcallStatus.InvalidOperand), ("ALIGN_ERROR", TdvmcallStatus.AlignError), ("SUBFUNC_UNSUPPORTED", TdvmcallStatus.SubfuncUnsupported)),
            PlatformEnum.Of("tdcm_op", true, ("CHECK_TEEIO_SUPP", Tdcm.OpCheckTeeioSupp), ("BIND", Tdcm.OpBind), ("UNBIND", Tdcm.OpUnbind),
                ("GET_TDI_REPORT", Tdcm.OpGetTdiReport), ("START_TDI", Tdcm.OpStartTdi), ("GET_DEVICE_INFO", Tdcm.OpGetDeviceInfo)),
            PlatformEnum.Of("tdcm_status", true, ("IDLE", Tdcm.StatusIdle), ("WAIT", Tdcm.StatusWait), ("COMPLETED", Tdcm.StatusCompleted)),
            PlatformEnum.Of("tdx_read_evidence_object", true, ("TDI_REPORT", TdxGuestRequestPayload.ObjectTdiReport), ("DEVICE_INFO", TdxGuestRequestPayload.ObjectDeviceInfo)),
        ],
        [
            PlatformStruct.Of("spdm_config_info_t", SpdmConfigInfo.Size, false,
                ("vmm_spdm_cap", SpdmConfigInfo.VmmSpdmCap, 4), ("spdm_session_policy", SpdmConfigInfo.SessionPolicy, 1),
                ("certificate_slot_mask", SpdmConfigInfo.CertificateSlotMask, 1), ("raw_bitstream_requested", SpdmConfigInfo.RawBitstreamRequested, 1)),
            PlatformStruct.Of("kvm_run (KVM_EXIT_TDX part)", KvmRunTdx.Size, false,
                ("exit_reason", KvmRunTdx.ExitReason, 4), ("tdx.flags", KvmRunTdx.Flags, 8), ("tdx.nr", KvmRunTdx.Nr, 8),
                ("tdx.unknown.ret", KvmRunTdx.Ret, 8), ("tdx.unknown.data[5]", KvmRunTdx.Data, 40)),
            PlatformStruct.Of("tdcm_buffer_header", Tdcm.HeaderSize, true,
                ("operation", Tdcm.Operation, 1), ("status", Tdcm.Status, 1), ("error", Tdcm.Error, 4), ("data_length", Tdcm.DataLength, 4), ("tsm_code", Tdcm.TsmCode, 8)),
            PlatformStruct.Of("tdx_validate_mmio_req", TdxGuestRequestPayload.MmioSize, false,
                ("gpa_base", TdxGuestRequestPayload.MmioGpaBase, 8), ("gpa_top", TdxGuestRequestPayload.MmioGpaTop, 8), ("pa_base", TdxGuestRequestPayload.MmioPaBase, 8)),
            PlatformStruct.Of("tdx_read_evidence_req", TdxGuestRequestPayload.EvidenceSize, true,
                ("object", TdxGuestRequestPayload.EvidenceObject, 4), ("reserved", TdxGuestRequestPayload.EvidenceReserved, 4)),
        ]);
}
