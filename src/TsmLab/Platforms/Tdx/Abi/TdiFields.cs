namespace TsmLab.Platforms.Tdx.Abi;

/// <summary>
/// TDG.TDI.RD field codes (RDX) [TX17,TX18]: GET_TDISP_STATE 2, GET_TDISP_REPORT_HASH 3,
/// GET_BIND_SESSION_ID 5. GET_DEVICE_ATTESTATION_INFO_HASH exists but its value was not found:
/// TsmLab gives it 4 (TsmLab definition, the gap between the known codes).
/// </summary>
public static class TdiReadField
{
    public const ulong TdispState = 2, ReportHash = 3, DeviceAttestationInfoHash = 4, BindSessionId = 5;
    /// <summary>SHA-384: the hash fields' length, returned in RCX [TX18].</summary>
    public const int HashLength = 48;
}

/// <summary>TDI states TDG.TDI.RD(GET_TDISP_STATE) returns [TX17]: the TDISP numbering.</summary>
public static class TdiStateValue
{
    public const ulong ConfigUnlocked = 0, ConfigLocked = 1, Run = 2, Error = 3;
}

/// <summary>
/// TD-scope metadata the guest reads with TDG.VM.RD (RDX = field id, value in R8) [TX30]:
/// TDCS CONFIG_FLAGS 0x1110000300000016; bit 5 = TDX Connect, bit 6 = page release [TX12].
/// </summary>
public static class TdcsField
{
    public const ulong ConfigFlags = 0x1110_0003_0000_0016;
    public const ulong ConfigFlagTdxConnect = 1ul << 5;
    public const ulong ConfigFlagPageRelease = 1ul << 6;
}

/// <summary>
/// The TDX module's global metadata for the extension and TDX Connect [TX3]
/// (<c>tdx_sys_info_ext</c>, <c>tdx_sys_info_connect</c>); field ids are not public, so the host
/// reads this record instead of issuing TDH.SYS.RD (TsmLab simplification).
/// </summary>
public sealed record TdxSysInfo(ushort MemoryPoolRequiredPages, byte ExtRequired, ushort IdeMtPageCount, ushort SpdmMtPageCount,
    ushort IommuMtPageCount, ushort SpdmMaxDevInfoPages);
