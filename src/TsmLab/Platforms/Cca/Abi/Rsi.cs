namespace TsmLab.Platforms.Cca.Abi;

/// <summary>
/// Realm Services Interface calls a realm guest makes to the RMM for device assignment
/// (platforms-and-tdisp.md §2.5) [A3,R2], with rsi_vdevice_info and rsi_host_call layouts.
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

    /// <summary>rsi_vdevice_info (Sz 0x200) [A3,R2].</summary>
    public const int InfoFlags = 0x00, InfoCertId = 0x08, InfoHashAlgo = 0x10, InfoLockNonce = 0x18, InfoMeasNonce = 0x20,
        InfoReportNonce = 0x28, InfoTdispVersion = 0x30, InfoState = 0x38, InfoVcaDigest = 0x40, InfoCertDigest = 0x80,
        InfoPubkeyDigest = 0xC0, InfoMeasDigest = 0x100, InfoReportDigest = 0x140, InfoSize = 0x200, DigestSize = 64;

    /// <summary>hash_algo values.</summary>
    public const byte HashSha256 = 0, HashSha512 = 1;

    /// <summary>VALIDATE_MAPPING flags (x5): b0 COHERENT, b1 LIMITED_ORDER.</summary>
    public const ulong MappingCoherent = 1, MappingLimitedOrder = 2;

    /// <summary>VALIDATE_MAPPING response (x2).</summary>
    public const ulong ResponseAccept = 0, ResponseReject = 1;
}

/// <summary>
/// RSI return codes (RMM spec DEN0137 RsiCommandReturnCode; the numbers are not in the corpus):
/// SUCCESS 0, ERROR_INPUT 1, ERROR_STATE 2, INCOMPLETE 3, ERROR_UNKNOWN 4.
/// </summary>
public enum RsiStatus : ulong
{
    Success = 0,
    ErrorInput = 1,
    ErrorState = 2,
    Incomplete = 3,
    ErrorUnknown = 4,
}
