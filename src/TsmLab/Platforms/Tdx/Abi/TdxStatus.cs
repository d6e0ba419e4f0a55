namespace TsmLab.Platforms.Tdx.Abi;

/// <summary>
/// TDX module completion statuses as RAX carries them: the status in bits 63:32, an operand id
/// in bits 31:0 [TX2]. The generic codes are Linux's <c>asm/shared/tdx_errno.h</c> [TX2]; class
/// 0x0F (TDX Connect) comes from the TDX module's generated table [TX13] except
/// TDX_SPDM_REQUEST, which only the Gen-2 Linux header has [TX2]. TDX_NON_RECOVERABLE_TD is
/// Linux's value (0x4000000200000000), not the module table's 0x6000000200000000: TsmLab follows
/// the header its host driver is built against (docs/tdx.md, "Status codes").
/// </summary>
public static class TdxStatus
{
    /// <summary>Masks the status class and code (bits 63:32) away from the operand id.</summary>
    public const ulong Mask = 0xFFFF_FFFF_0000_0000;

    public const ulong Success = 0;
    public const ulong OperandInvalid = 0xC000_0100_0000_0000;
    public const ulong OperandBusy = 0x8000_0200_0000_0000;
    public const ulong InterruptedResumable = 0x8000_0003_0000_0000;
    public const ulong PageMetadataIncorrect = 0xC000_0300_0000_0000;
    public const ulong EptWalkFailed = 0xC000_0B00_0000_0000;
    public const ulong EptEntryStateIncorrect = 0xC000_0B0D_0000_0000;
    public const ulong MetadataFieldNotReadable = 0xC000_0C02_0000_0000;
    public const ulong NonRecoverableTd = 0x4000_0002_0000_0000;

    public const ulong IommuInvalidState = 0xC000_0F00_0000_0000;
    public const ulong SpdmHasActiveIdeStreams = 0xC000_0F05_0000_0000;
    public const ulong SpdmInvalidState = 0xC000_0F06_0000_0000;
    public const ulong DevifInvalid = 0xC000_0F0C_0000_0000;
    public const ulong DevifTdispInvalidState = 0xC000_0F10_0000_0000;
    public const ulong DevifHasMappedMmio = 0xC000_0F13_0000_0000;
    public const ulong IdeStreamNotFree = 0xC000_0F16_0000_0000;
    public const ulong IdeStreamBlocked = 0xC000_0F19_0000_0000;
    public const ulong IdeStreamNotBlocked = 0xC000_0F1A_0000_0000;
    public const ulong IdeStreamHasDeviceInterfaces = 0xC000_0F1F_0000_0000;
    public const ulong MmioAcceptSizeMismatch = 0xC000_0F26_0000_0000;
    /// <summary>A warning (bit 63 clear): the page was accepted before; nothing changed.</summary>
    public const ulong MmioPageAlreadyAccepted = 0x0000_0F28_0000_0000;
    public const ulong SpdmAuthFailed = 0xC000_0F3C_0000_0000;
    public const ulong DevifHasMappedDma = 0xC000_0F3F_0000_0000;
    public const ulong DevifInvalidMetadata = 0xC000_0F41_0000_0000;
    public const ulong SpdmEntryNotPresent = 0xC000_0F44_0000_0000;
    public const ulong SpdmSessionKeyRequireRefresh = 0xC000_0F45_0000_0000;
    public const ulong ConnectInvalidState = 0xC000_0F46_0000_0000;
    public const ulong DevifTdispErrorState = 0xC000_0F4A_0000_0000;
    public const ulong SpdmRequest = 0xC000_0F57_0000_0000;

    /// <summary>
    /// Linux's software-error class (bits 47:40 = 0xFF, TDX_SW_ERROR [TX2]): the host driver's own
    /// failure, never a module status. TsmLab uses it when the driver gives up relaying an operation.
    /// </summary>
    public const ulong SwError = 0xC000_FF00_0000_0000;

    /// <summary>Operand ids in bits 31:0 [TX2]: RCX, TDR.</summary>
    public const ulong OperandRcx = 0x01, OperandTdr = 0x80;

    /// <summary>Bit 63: the call failed (a status with bit 63 clear is success or a warning).</summary>
    public static bool IsError(ulong status) => (status & 0x8000_0000_0000_0000) != 0;

    /// <summary>The status without its operand id.</summary>
    public static ulong Code(ulong status) => status & Mask;

    /// <summary>Every status the model answers, with its header name.</summary>
    public static IReadOnlyList<(ulong Code, string Name)> All => Names;

    private static readonly (ulong Code, string Name)[] Names =
    [
        (Success, "TDX_SUCCESS"), (OperandInvalid, "TDX_OPERAND_INVALID"), (OperandBusy, "TDX_OPERAND_BUSY"),
        (InterruptedResumable, "TDX_INTERRUPTED_RESUMABLE"), (PageMetadataIncorrect, "TDX_PAGE_METADATA_INCORRECT"),
        (EptWalkFailed, "TDX_EPT_WALK_FAILED"), (EptEntryStateIncorrect, "TDX_EPT_ENTRY_STATE_INCORRECT"),
        (MetadataFieldNotReadable, "TDX_METADATA_FIELD_NOT_READABLE"), (NonRecoverableTd, "TDX_NON_RECOVERABLE_TD"),
        (IommuInvalidState, "TDX_IOMMU_INVALID_STATE"), (SpdmHasActiveIdeStreams, "TDX_SPDM_HAS_ACTIVE_IDE_STREAMS"),
        (SpdmInvalidState, "TDX_SPDM_INVALID_STATE"), (DevifInvalid, "TDX_DEVIF_INVALID"),
        (DevifTdispInvalidState, "TDX_DEVIF_TDISP_INVALID_STATE"), (DevifHasMappedMmio, "TDX_DEVIF_HAS_MAPPED_MMIO"),
        (IdeStreamNotFree, "TDX_IDE_STREAM_NOT_FREE"), (IdeStreamBlocked, "TDX_IDE_STREAM_BLOCKED"),
        (IdeStreamNotBlocked, "TDX_IDE_STREAM_NOT_BLOCKED"), (IdeStreamHasDeviceInterfaces, "TDX_IDE_STREAM_HAS_DEVICE_INTERFACES"),
        (MmioAcceptSizeMismatch, "TDX_MMIO_ACCEPT_SIZE_MISMATCH"), (MmioPageAlreadyAccepted, "TDX_MMIO_PAGE_ALREADY_ACCEPTED"),
        (SpdmAuthFailed, "TDX_SPDM_AUTH_FAILED"), (DevifHasMappedDma, "TDX_DEVIF_HAS_MAPPED_DMA"),
        (DevifInvalidMetadata, "TDX_DEVIF_INVALID_METADATA"), (SpdmEntryNotPresent, "TDX_SPDM_ENTRY_NOT_PRESENT"),
        (SpdmSessionKeyRequireRefresh, "TDX_SPDM_SESSION_KEY_REQUIRE_REFRESH"), (ConnectInvalidState, "TDX_CONNECT_INVALID_STATE"),
        (DevifTdispErrorState, "TDX_DEVIF_TDISP_ERROR_STATE"), (SpdmRequest, "TDX_SPDM_REQUEST"), (SwError, "TDX_SW_ERROR"),
    ];

    /// <summary>"TDX_OPERAND_INVALID(RCX)" style name of a status, or its hex value when unknown.</summary>
    public static string NameOf(ulong status)
    {
        ulong code = Code(status), operand = status & ~Mask;
        foreach (var (c, n) in Names)
            if (c == code) return operand == 0 ? n : $"{n}(0x{operand:x})";
        return $"0x{status:x16}";
    }
}
