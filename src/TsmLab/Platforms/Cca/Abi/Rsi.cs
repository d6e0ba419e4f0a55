namespace TsmLab.Platforms.Cca.Abi;

/// <summary>
/// Realm Services Interface calls a realm guest makes to the RMM for device assignment, with the
/// rsi_vdev_info and rsi_host_call layouts, as the pinned RMM revision defines them: TF-RMM
/// 9a7f8ef <c>lib/smc/include/smc-rsi.h</c> [TR1] (RMM spec DEN0137 2.0 draft, B5.5).
/// </summary>
public static class Rsi
{
    public const ulong HostCall = 0xC4000199;
    public const ulong VdevDmaEnable = 0xC400019C;
    public const ulong VdevGetInfo = 0xC400019D;
    public const ulong VdevValidateMapping = 0xC400019F;
    public const ulong VdevDmaDisable = 0xC40001A4;

    /// <summary>struct rsi_host_call: imm u16 @0, gprs[31] @8 (Sz 256) [§2.1].</summary>
    public const int HostCallImm = 0, HostCallGprs = 8, HostCallSize = 8 + 31 * 8;

    /// <summary>
    /// struct rsi_vdev_info (Sz 0x200, RsiVdevInfo) [TR1]: flags @0, cert_id @8, hash_algo u8 @0x10,
    /// lock/meas/report nonces @0x18/0x20/0x28, format_type u8 @0x30, format_version @0x38, state u8
    /// @0x40 (RsiVdevState), the five 64-byte digests @0x80/0xC0/0x100/0x140/0x180, vsmmu_addr
    /// @0x1C0, vsmmu_vsid @0x1C8. (The 2025 guest RFC v3 layout [A3] had state @0x38 and the digests
    /// 0x40 lower; RMM 2.0 moved them.)
    /// </summary>
    public const int InfoFlags = 0x00, InfoCertId = 0x08, InfoHashAlgo = 0x10, InfoLockNonce = 0x18, InfoMeasNonce = 0x20,
        InfoReportNonce = 0x28, InfoFormatType = 0x30, InfoFormatVersion = 0x38, InfoState = 0x40, InfoVcaDigest = 0x80,
        InfoCertDigest = 0xC0, InfoPubkeyDigest = 0x100, InfoMeasDigest = 0x140, InfoReportDigest = 0x180,
        InfoVsmmuAddr = 0x1C0, InfoVsmmuVsid = 0x1C8, InfoSize = 0x200, DigestSize = 64;

    /// <summary>RsiVdevReportFormatType: IMPDEF 0, TDISP 1; for TDISP, format_version = major &lt;&lt; 16 | minor.</summary>
    public const byte FormatImpdef = 0, FormatTdisp = 1;

    /// <summary>RsiHashAlgorithm (= RmiHashAlgorithm): SHA-256 0, SHA-512 1, SHA-384 2.</summary>
    public const byte HashSha256 = 0, HashSha512 = 1, HashSha384 = 2;

    /// <summary>RSI_VDEV_GET_INFO's address must be aligned to the 512-byte structure.</summary>
    public const ulong InfoAlignment = 512;

    /// <summary>VALIDATE_MAPPING flags (x5): b0 COHERENT, b1 LIMITED_ORDER.</summary>
    public const ulong MappingCoherent = 1, MappingLimitedOrder = 2;

    /// <summary>VALIDATE_MAPPING response (x2).</summary>
    public const ulong ResponseAccept = 0, ResponseReject = 1;
}

/// <summary>RSI return codes (RsiCommandReturnCode) [TR1]: RSI_SUCCESS 0 … RSI_ERROR_DEVICE 5.</summary>
public enum RsiStatus : ulong
{
    Success = 0,
    ErrorInput = 1,
    ErrorState = 2,
    Incomplete = 3,
    ErrorUnknown = 4,
    ErrorDevice = 5,
}

/// <summary>RsiVdevState, what rsi_vdev_info.state reports [TR1]: UNLOCKED 0, LOCKED 1, STARTED 2, ERROR 3.</summary>
public enum RsiVdevState : byte
{
    Unlocked = 0,
    Locked = 1,
    Started = 2,
    Error = 3,
}
