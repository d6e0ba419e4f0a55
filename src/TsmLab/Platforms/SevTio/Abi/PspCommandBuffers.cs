namespace TsmLab.Platforms.SevTio.Abi;

/// <summary>Offsets and sizes of the TIO command buffers (<c>struct sev_data_tio_*</c> [S5]).</summary>
/// <remarks>
/// Command buffer layouts of the SEV-TIO firmware commands, every one as the public host driver
/// defines it (aik/linux drivers/crypto/ccp/sev-dev-tio.c at aa4f5cf [S5], all __packed, little
/// endian): length u32 @0 (must equal the command's size, else INVALID_LEN), then the command's
/// fields. Contexts are pages the host donates and names by a scatter-list address (SlaAddress);
/// SPDM-aware commands carry the 32-byte spdm_ctrl block @8, and their output objects come back in
/// spdm_ctrl.output (SlaBufferHeader, then an SPDM data object header, then the data).
/// </remarks>
public static class PspCommandBuffer
{
    public const int Length = 0;

    /// <summary><c>struct spdm_ctrl</c> (32 B): req, resp, scratch, output, each a sla_addr_t.</summary>
    public static class SpdmCtrl { public const int Size = 32, Req = 0, Resp = 8, Scratch = 16, Output = 24; }

    /// <summary><c>sev_data_tio_status</c> (16 B): status_paddr @8 → <see cref="TioStatusData"/>.</summary>
    public static class TioStatus { public const int Size = 16, StatusPaddr = 8; }
    /// <summary><c>sev_data_tio_init</c> (16 B): length and three reserved words.</summary>
    public static class TioInit { public const int Size = 16; }
    /// <summary><c>sev_data_tio_dev_create</c> (32 B).</summary>
    public static class DevCreate { public const int Size = 32, DevCtxSla = 8, DeviceId = 16, RootPortId = 18, SegmentId = 20; }
    /// <summary><c>sev_data_tio_dev_connect</c> (80 B).</summary>
    public static class DevConnect { public const int Size = 80, SpdmCtrl = 8, DevCtxSla = 48, TcMask = 56, CertSlot = 57, IdeStreamId = 64, IdeStreamIds = 8; }
    /// <summary><c>sev_data_tio_dev_disconnect</c> (48 B): flags @4 (b0 force: no SPDM traffic).</summary>
    public static class DevDisconnect { public const int Size = 48, Flags = 4, SpdmCtrl = 8, DevCtxSla = 40; public const uint FlagForce = 1; }
    /// <summary><c>sev_data_tio_dev_meas</c> (80 B): flags @4 (b0 raw_bitstream), meas_nonce[32] @48.</summary>
    public static class DevMeasurements { public const int Size = 80, Flags = 4, SpdmCtrl = 8, DevCtxSla = 40, Nonce = 48; public const uint FlagRawBitstream = 1; }
    /// <summary><c>sev_data_tio_dev_certs</c> (48 B).</summary>
    public static class DevCertificates { public const int Size = 48, SpdmCtrl = 8, DevCtxSla = 40; }
    /// <summary><c>sev_data_tio_dev_reclaim</c> (16 B).</summary>
    public static class DevReclaim { public const int Size = 16, DevCtxSla = 8; }
    /// <summary><c>sev_data_tio_dev_status</c> (28 B, packed: status_paddr is unaligned @20) → <see cref="DevStatusData"/>.</summary>
    public static class DevStatus { public const int Size = 28, DevCtxSla = 8, StatusLength = 16, StatusPaddr = 20; }
    /// <summary><c>sev_data_tio_tdi_create</c> (48 B): interface_id (<c>struct tdisp_interface_id</c>, 12 B) @24.</summary>
    public static class TdiCreate { public const int Size = 48, DevCtxSla = 8, TdiCtxSla = 16, InterfaceId = 24; }
    /// <summary><c>sev_data_tio_tdi_reclaim</c> (32 B).</summary>
    public static class TdiReclaim { public const int Size = 32, DevCtxSla = 8, TdiCtxSla = 16; }
    /// <summary>
    /// <c>sev_data_tio_tdi_bind</c> (72 B): guest_device_id u16 @64, tdisp_lock_if.flags u16 @66
    /// (TDISP LOCK_INTERFACE flags: b0 NO_FW_UPDATE, b1 reserved (cache line), b2 LOCK_MSIX, b3
    /// BIND_P2P, b4 ALL_REQUEST_REDIRECT), then a u16 @68 whose b0 is <c>run</c> (START the TDI).
    /// </summary>
    public static class TdiBind
    {
        public const int Size = 72, SpdmCtrl = 8, DevCtxSla = 40, TdiCtxSla = 48, Gctx = 56, GuestDeviceId = 64, LockFlags = 66, RunWord = 68;
        public const ushort Run = 1, LockFlagMask = 0x1F;
    }
    /// <summary><c>sev_data_tio_tdi_unbind</c> and <c>sev_data_tio_tdi_report</c> (64 B each).</summary>
    public static class TdiUnbind { public const int Size = 64, SpdmCtrl = 8, DevCtxSla = 40, TdiCtxSla = 48, Gctx = 56; }
    /// <inheritdoc cref="TdiUnbind"/>
    public static class TdiReport { public const int Size = 64, SpdmCtrl = 8, DevCtxSla = 40, TdiCtxSla = 48, Gctx = 56; }
    /// <summary><c>sev_data_tio_tdi_status</c> (64 B) → <see cref="TdiStatusData"/>.</summary>
    public static class TdiStatus { public const int Size = 64, SpdmCtrl = 8, DevCtxSla = 40, TdiCtxSla = 48, StatusPaddr = 56; }
    /// <summary><c>sev_data_tio_tdi_info</c> (48 B) → <see cref="TdiInfoData"/>.</summary>
    public static class TdiInfo { public const int Size = 48, DevCtxSla = 8, TdiCtxSla = 16, StatusPaddr = 24; }
    /// <summary><c>sev_data_tio_guest_request</c> (80 B): no parameter words (KVM, not the PSP, sets the guest's RDX [S7]).</summary>
    public static class GuestRequest { public const int Size = 80, SpdmCtrl = 8, DevCtxSla = 40, TdiCtxSla = 48, Gctx = 56, ReqPaddr = 64, ResPaddr = 72; }
    /// <summary><c>sev_data_tio_asid_fence_clear</c> (32 B; the model answers INVALID_COMMAND).</summary>
    public static class AsidFenceClear { public const int Size = 32, Gctx = 8, DeviceId = 16, SegmentId = 18; }
    /// <summary><c>sev_data_tio_asid_fence_status</c> (32 B; the model answers INVALID_COMMAND).</summary>
    public static class AsidFenceStatus { public const int Size = 32, Asid = 4, StatusPaddr = 8, DeviceId = 16, SegmentId = 18; }
    /// <summary><c>sev_data_tio_roll_key</c> (48 B; the model answers INVALID_COMMAND).</summary>
    public static class RollKey { public const int Size = 48, SpdmCtrl = 8, DevCtxSla = 40; }
}

/// <summary><c>struct sev_tio_status</c> (48 B), written at TIO_STATUS's status_paddr [S5].</summary>
public static class TioStatusData
{
    public const int Size = 48;
    public const int Length = 0, Flags = 4, SpdmReqSizeMin = 8, SpdmReqSizeMax = 12, SpdmScratchSizeMin = 16, SpdmScratchSizeMax = 20,
        SpdmOutSizeMin = 24, SpdmOutSizeMax = 28, SpdmRspSizeMin = 32, SpdmRspSizeMax = 36, DevctxSize = 40, TdictxSize = 44;
    /// <summary>flags: b0 tio_en (SNP_INIT_EX set the RMP up for TIO), b1 tio_init_done.</summary>
    public const uint TioEn = 1, TioInitDone = 2;
}

/// <summary><c>struct sev_tio_dev_status</c> (160 B), written at DEV_STATUS's status_paddr [S5].</summary>
public static class DevStatusData
{
    public const int Size = 160;
    public const int Length = 0, CtxState = 4, P1 = 6, CertsSlot = 7, DeviceId = 8, SegmentId = 10, TcMask = 11,
        RequestPendingCommand = 12, RequestPendingInterfaceId = 16, P2 = 28, IdeStreamId = 32, CertsDigest = 48, MeasDigest = 96,
        TdiCount = 144, BoundTdiCount = 148;
    /// <summary>p1: b0 request_pending, b1 request_pending_tdi. p2: b0 meas_digest_valid, b1 no_fw_update.</summary>
    public const byte RequestPending = 1, RequestPendingTdi = 2, MeasDigestValid = 1, NoFwUpdate = 2;
    /// <summary>ctx_state (values a TsmLab definition: the driver copies the byte without naming values): 0 created, 1 connected.</summary>
    public const byte StateCreated = 0, StateConnected = 1;
}

/// <summary><c>struct sev_tio_tdi_info_data</c> (192 B), written at TDI_INFO's status_paddr [S5].</summary>
public static class TdiInfoData
{
    public const int Size = 192;
    public const int Length = 0, InterfaceId = 4, P1 = 16, P2 = 20, SpdmAlgos = 24, CertsDigest = 32, MeasDigest = 80,
        InterfaceReportDigest = 128, IntfReportCounter = 176, Asid = 184;
    /// <summary>p1: b0 meas_digest_valid, b1 meas_digest_fresh, b2-3 tdi_status (<see cref="TdiFirmwareState"/>). p2: the TDISP lock flags.</summary>
    public const uint MeasDigestValid = 1, MeasDigestFresh = 2;
    public const int TdiStatusShift = 2;
}

/// <summary><c>struct sev_tio_tdi_status_data</c> (8 B): tdisp_state u8 @4 (TIO_TDISP_STATE_* = TDISP numbering) [S5].</summary>
public static class TdiStatusData { public const int Size = 8, Length = 0, TdispState = 4; }

/// <summary><c>struct tdisp_interface_id</c> (12 B): function_id u32 (b0-15 requester id, b16-23 segment, b24 segment valid), 8 reserved [S5].</summary>
public static class TdispInterfaceId
{
    public const int Size = 12, FunctionId = 0;
    public const uint RsegValid = 1u << 24;
    public static uint Encode(ushort rid, byte segment, bool segmentValid) => rid | (uint)segment << 16 | (segmentValid ? RsegValid : 0);
}

/// <summary>
/// <c>struct sla_addr_t</c> (8 B): b0 page_type (0 data, 1 scatter: the page holds sla_addr_t
/// entries ending with SLA_EOL), b1 page_size (0 4 KiB, 1 2 MiB), b2-11 reserved, b12-51 pfn,
/// b52-63 reserved [S5].
/// </summary>
public static class SlaAddress
{
    public const ulong Null = 0;
    public const ulong PageTypeScatter = 1, PageSize2M = 2;
    public const ulong PfnMask = 0xFF_FFFF_FFFFul << 12;
    /// <summary>SLA_EOL: pfn all ones, type and size 0.</summary>
    public const ulong Eol = PfnMask;
    private const ulong Reserved = ~(PfnMask | PageTypeScatter | PageSize2M);

    /// <summary>A 4 KiB data page.</summary>
    public static ulong Data(ulong pa) => pa & PfnMask;

    /// <summary>A 4 KiB page holding a scatter list.</summary>
    public static ulong Scatter(ulong pa) => (pa & PfnMask) | PageTypeScatter;

    /// <summary>Splits an SLA; false when reserved bits are set.</summary>
    public static bool TryDecode(ulong sla, out ulong pa, out bool scatter, out bool large)
    {
        pa = sla & PfnMask;
        scatter = (sla & PageTypeScatter) != 0;
        large = (sla & PageSize2M) != 0;
        return (sla & Reserved) == 0;
    }
}

/// <summary><c>struct sla_buffer_hdr</c> (0x40 B) at the start of every SPDM buffer [S5].</summary>
public static class SlaBufferHeader
{
    public const int Size = 0x40;
    public const int CapacitySz = 0, PayloadSz = 4, Flags = 8, Iv = 16, Authtag = 32;
    /// <summary>flags b0: the payload is encrypted (the model never encrypts).</summary>
    public const uint FlagEncryption = 1;
}

/// <summary>
/// <c>struct spdm_dobj_hdr</c> (id u32, length u32 including the header, version u16 minor/major)
/// and its typed forms: _req/_resp (16 B, data_type u8 @10) and _cert/_meas/_report (32 B,
/// device_id u16 @16, segment_id u8 @18, type u8 @19 = 1) [S5].
/// </summary>
public static class SpdmDataObject
{
    public const int Id = 0, Length = 4, VersionMinor = 8, VersionMajor = 9, DataType = 10, DeviceId = 16, SegmentId = 18, Type = 19;
    public const int RequestHeaderSize = 16, ObjectHeaderSize = 32;
    public const uint IdNone = 0, IdReq = 1, IdResp = 2, IdCertificate = 4, IdMeasurement = 5, IdReport = 6;
    /// <summary>spdm_data_type_t.</summary>
    public const byte DataTypeSpdm = 1, DataTypeSecureSpdm = 2;
    /// <summary>Payloads are padded to this (sla_buffer_hdr.payload_sz "must be multiple of 32B").</summary>
    public const int Alignment = 32;
}

/// <summary>The firmware's bind state of a TDI (TDI_INFO p1 bits 2-3 [S5]).</summary>
public enum TdiFirmwareState : uint
{
    Unbound = 0,
    BindLocked = 1,
    BindRun = 2,
}
