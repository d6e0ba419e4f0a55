namespace TsmLab.Tdisp.Wire;

/// <summary>TDISP request codes (0x81..0x8C) [D1].</summary>
/// <remarks>
/// TDISP 1.0 message codes, state numbers and error codes. Source: PCIe 6.x §11 via DMTF libspdm
/// pci_tdisp.h [D1]; spec reference §5.3, §5.6, §5.7.
/// </remarks>
public enum TdispRequestCode : byte
{
    GetTdispVersion = 0x81,
    GetTdispCapabilities = 0x82,
    LockInterface = 0x83,
    GetDeviceInterfaceReport = 0x84,
    GetDeviceInterfaceState = 0x85,
    StartInterface = 0x86,
    StopInterface = 0x87,
    BindP2pStream = 0x88,
    UnbindP2pStream = 0x89,
    SetMmioAttribute = 0x8A,
    VdmRequest = 0x8B,
    SetTdispConfig = 0x8C,
}

/// <summary>TDISP response codes (0x01..0x0C, 0x7F) [D1].</summary>
public enum TdispResponseCode : byte
{
    TdispVersion = 0x01,
    TdispCapabilities = 0x02,
    LockInterface = 0x03,
    DeviceInterfaceReport = 0x04,
    DeviceInterfaceState = 0x05,
    StartInterface = 0x06,
    StopInterface = 0x07,
    BindP2pStream = 0x08,
    UnbindP2pStream = 0x09,
    SetMmioAttribute = 0x0A,
    VdmResponse = 0x0B,
    SetTdispConfig = 0x0C,
    TdispError = 0x7F,
}

/// <summary>The TDI state machine's states, numbered as on the wire [D1] (§5.6).</summary>
public enum TdiState : byte
{
    ConfigUnlocked = 0,
    ConfigLocked = 1,
    Run = 2,
    Error = 3,
}

/// <summary>TDISP_ERROR error_code values [D1] (§5.7).</summary>
public enum TdispErrorCode : uint
{
    None = 0,
    InvalidRequest = 0x01,
    Busy = 0x03,
    InvalidInterfaceState = 0x04,
    Unspecified = 0x05,
    UnsupportedRequest = 0x07,
    VersionMismatch = 0x41,
    VendorSpecificError = 0xFF,
    InvalidInterface = 0x101,
    InvalidNonce = 0x102,
    InsufficientEntropy = 0x103,
    InvalidDeviceConfiguration = 0x104,
}

/// <summary>LOCK_INTERFACE_REQUEST flags [D1] (§5.4).</summary>
[Flags]
public enum LockInterfaceFlags : ushort
{
    None = 0,
    NoFwUpdate = 1 << 0,
    /// <summary>0 = 64-byte, 1 = 128-byte system cache line [S2].</summary>
    SystemCacheLineSize128 = 1 << 1,
    LockMsix = 1 << 2,
    BindP2p = 1 << 3,
    AllRequestRedirect = 1 << 4,
}

/// <summary>The first byte of a PCI-SIG vendor-defined payload: which protocol follows [D2].</summary>
public enum VdmProtocolId : byte
{
    IdeKm = 0x00,
    Tdisp = 0x01,
}
