namespace TsmLab.Platforms.SevTio.Abi;

/// <summary>
/// <c>struct sev_tio_guest_req</c> (64 B, TsmLab): req_uptr u64 @0 (the guest's request page as
/// the VMM maps it), resp_uptr u64 @8 (response page), data_uptr u64 @16 (shared data pages, 0 =
/// none), data_npages u32 @24, guest_rid u32 @28, param u64 @32 (RDX in), mmio_gpa u64 @40,
/// mmio_pa u64 @48 (host physical address the VMM maps at mmio_gpa; VALIDATE_MMIO only),
/// mmio_npages u32 @56, reserved u32 @60 (must be 0).
/// </summary>
/// <remarks>
/// The iommufd payload of an SEV-TIO guest request. The real bytes were not found in any source
/// (platforms-and-tdisp.md §3.4, §6 item 2): this is a **TsmLab definition** (docs/sev-tio.md). The
/// VMM fills it from the GHCB registers; the kernel reads only these words, never the pages.
/// </remarks>
public static class SevGuestRequestPayload
{
    public const int Size = 64;
    public const int ReqUptr = 0, RespUptr = 8, DataUptr = 16, DataNpages = 24, GuestRid = 28, Param = 32,
        MmioGpa = 40, MmioPa = 48, MmioNpages = 56, Reserved = 60;
    /// <summary>Most MMIO pages one request may assign (TsmLab bound: 1 GiB).</summary>
    public const uint MaxMmioPages = 1u << 18;
    /// <summary>Most shared data pages a request may offer (TsmLab bound).</summary>
    public const uint MaxDataPages = 64;
}

/// <summary>
/// <c>struct sev_tio_guest_resp</c> (16 B, TsmLab): param_out u64 @0 (RDX out), needed_npages
/// u32 @8 (when the data pages were too small), fw_error u32 @12 (the PSP status, also in tsm_code).
/// </summary>
public static class SevGuestResponsePayload
{
    public const int Size = 16;
    public const int ParamOut = 0, NeededNpages = 8, FwError = 12;
}

/// <summary>
/// SET_TDI_STATE's plaintext payload for SEV (TsmLab, the shape of the CCA op-based one [A9]):
/// tdi_state u32 @0, TDISP numbering. RUN (2) starts the TDI (SEV_TIO_OP RUN); CONFIG_UNLOCKED
/// (0) stops it (SEV_TIO_OP STOP). CONFIG_LOCKED is reached by bind only.
/// </summary>
public static class SevSetTdiStatePayload
{
    public const int Size = 4;
}

/// <summary>tsm_code values beyond a PSP status: the VMM error in bits 32-63, as the GHCB's exit_info_2 carries it.</summary>
public static class SevTsmCode
{
    /// <summary>SNP_GUEST_VMM_ERR_INVALID_LEN &lt;&lt; 32: the data pages are too small.</summary>
    public const ulong InvalidLength = 1ul << 32;
    /// <summary>SNP_GUEST_VMM_ERR_GENERIC &lt;&lt; 32.</summary>
    public const ulong Generic = 0xFFFF_FFFFul << 32;
}
