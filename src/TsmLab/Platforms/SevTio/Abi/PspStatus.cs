namespace TsmLab.Platforms.SevTio.Abi;

/// <summary>The SEV-TIO firmware commands the PSP model implements [S4]. Others answer INVALID_COMMAND.</summary>
/// <remarks>
/// PSP command ids and status codes. Command ids: SEV-TIO RFC psp-sev.h [S4] (0xD0-0xE4) and
/// sev_tio_cmd_buffer_len [S5]. Status values: enum sev_ret_code of include/uapi/linux/psp-sev.h in
/// the SEV-TIO tree [S6]; the subset the model returns.
/// </remarks>
public enum PspCommandId : uint
{
    TioStatus = 0xD0,
    TioInit = 0xD1,
    DevCreate = 0xD2,
    DevReclaim = 0xD3,
    DevConnect = 0xD4,
    DevDisconnect = 0xD5,
    DevStatus = 0xD6,
    DevMeasurements = 0xD7,
    DevCertificates = 0xD8,
    TdiCreate = 0xDA,
    TdiReclaim = 0xDB,
    TdiBind = 0xDC,
    TdiUnbind = 0xDD,
    TdiReport = 0xDE,
    TdiStatus = 0xDF,
    GuestRequest = 0xE0,
    AsidFenceClear = 0xE1,
    AsidFenceStatus = 0xE2,
    TdiInfo = 0xE3,
    RollKey = 0xE4,
}

/// <summary>PSP command status (<c>enum sev_ret_code</c>, psp-sev.h), the subset the model returns.</summary>
public enum PspStatus : uint
{
    Success = 0x00,
    /// <summary>TIO not initialised (before TIO_INIT), or initialised twice.</summary>
    InvalidPlatformState = 0x01,
    /// <summary>The device or TDI context is in the wrong state for the command.</summary>
    InvalidGuestState = 0x02,
    /// <summary>The command buffer's length field is wrong, or an output buffer is too small (needed length written back).</summary>
    InvalidLength = 0x04,
    /// <summary>A TDI or device context already exists for that function.</summary>
    AlreadyOwned = 0x05,
    /// <summary>A physical address in the command buffer is not a firmware-visible page.</summary>
    InvalidAddress = 0x09,
    /// <summary>The guest context (ASID) is unknown, or the TDI belongs to another guest.</summary>
    InvalidGuest = 0x10,
    /// <summary>A command id the firmware does not implement.</summary>
    InvalidCommand = 0x11,
    /// <summary>A field value the firmware rejects; for GUEST_REQUEST, a message that fails its header, sequence or authentication checks.</summary>
    InvalidParam = 0x16,
    /// <summary>SEV_RET_EXPAND_BUFFER_LENGTH_REQUEST: spdm_ctrl.output is too small; its sla_buffer_hdr.capacity_sz holds the size needed, nothing else was written.</summary>
    ExpandBufferLengthRequest = 0x31,
    /// <summary>SEV_RET_SPDM_REQUEST: the firmware wants the host to carry an SPDM request (not returned yet: the model reaches the device over the host's DOE route, docs/sev-tio.md).</summary>
    SpdmRequest = 0x32,
    /// <summary>SEV_RET_SPDM_ERROR: the device refused (TDISP_ERROR, a failed IDE_KM ack) or did not answer.</summary>
    SpdmError = 0x33,
}
