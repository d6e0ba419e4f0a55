namespace TsmLab.Platforms.Tdx.Abi;

/// <summary>
/// The TDX op-arch payloads the tdx-host link TSM takes (TsmLab definitions; no Linux TDX
/// guest_req exists [TX4,TX9]). VALIDATE_MMIO uses the arch-neutral 24-byte form the CCA backend
/// uses (CC): gpa_base u64 @0, gpa_top u64 @8 (exclusive), pa_base u64 @16. SET_TDI_STATE takes a
/// u32 TDISP state (only RUN: TDH.TDI.START). TDX_READ_EVIDENCE (op 8, TDX-tagged) takes
/// object u32 @0 (TDI report 0, device attestation info 1), reserved u32 @4 = 0, and answers the
/// object's bytes.
/// </summary>
public static class TdxGuestRequestPayload
{
    public const int MmioSize = 24, MmioGpaBase = 0, MmioGpaTop = 8, MmioPaBase = 16;
    public const int StateSize = 4;
    public const int EvidenceSize = 8, EvidenceObject = 0, EvidenceReserved = 4;
    public const uint ObjectTdiReport = 0, ObjectDeviceInfo = 1;
    /// <summary>The largest evidence object the host serves (the module's dev_info limit: spdm_max_dev_info_pages × 4 KiB).</summary>
    public const int MaxEvidence = 4 * 4096;
}

/// <summary>
/// The device attestation info ("dev_info") the module collects at TDH.SPDM.CONNECT and
/// TDH.SPDM.MNG(DEV_INFO_RECOLLECT) (TsmLab layout; the real blob's format is in the unpublished
/// ABI spec [TX6]): cert_chain_length u32 @0, the SPDM certificate chain, vca_length u32, the SPDM
/// VCA transcript, then the module's signed GET_MEASUREMENTS request and the device's MEASUREMENTS
/// response as exchanged in the session (the signature covers VCA || request || response [SP1]).
/// </summary>
public static class DeviceAttestationInfo
{
    public const int CertChainLength = 0, CertChain = 4;
}
