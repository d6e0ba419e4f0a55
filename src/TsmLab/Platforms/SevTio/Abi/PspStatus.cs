// PSP command ids and status codes. Command ids: SEV-TIO RFC psp-sev.h [S4] (0xD0-0xE4) and
// SEV_CMD_TIO_GUEST_REQUEST = 0xE0 [S4,S5]. Status values: enum sev_ret_code (psp-sev.h,
// include/uapi/linux/psp-sev.h); DeviceError is a TsmLab definition (docs/sev-tio.md).
using TsmLab.Platforms.SevTio.Firmware;
using TsmLab.Platforms.SevTio.HostDriver;
using TsmLab.Platforms.SevTio.Vmm;
using TsmLab.Platforms.SevTio.Kvm;
using TsmLab.Platforms.SevTio.Guest;

namespace TsmLab.Platforms.SevTio.Abi;

/// <summary>The SEV-TIO firmware commands the PSP model implements [S4]. Others answer INVALID_COMMAND.</summary>
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
    /// <summary>TsmLab definition: the device answered TDISP_ERROR, a failed IDE_KM ack or nothing.</summary>
    DeviceError = 0x1000,
}
