using TsmLab.Platforms.Tdx.Abi;

namespace TsmLab.Platforms.Tdx.Firmware;

/// <summary>A DMA remapping hardware unit of the machine (an ACPI DMAR DRHD): its register base and whether it supports TDX mode.</summary>
public sealed record TdxDrhd(ulong RegisterBase, bool TdxCapable, string Scope);

/// <summary>
/// Knobs of the TDX module model (TsmLab definitions; the real limits are in the unpublished
/// ABI spec): the global metadata it reports, after how many session messages it demands an SPDM
/// KEY_UPDATE, how many MMIO pages one TDG.MMIO.ACCEPT takes before it is interrupted, and how many
/// IDE streams the host bridge has (KEYP: cap &amp; 0x1ff, + 1 [TX4]).
/// </summary>
public sealed record TdxModuleOptions
{
    public TdxSysInfo SysInfo { get; init; } = new(MemoryPoolRequiredPages: 4, ExtRequired: 1, IdeMtPageCount: 1, SpdmMtPageCount: 2, IommuMtPageCount: 1, SpdmMaxDevInfoPages: 4);
    /// <summary>Session messages after which the next extension call answers TDX_SPDM_SESSION_KEY_REQUIRE_REFRESH (0: never).</summary>
    public int KeyUpdateInterval { get; init; } = 24;
    /// <summary>Pages one TDG.MMIO.ACCEPT accepts before it returns TDX_INTERRUPTED_RESUMABLE.</summary>
    public int MmioAcceptBatch { get; init; } = 64;
    /// <summary>IDE streams the host bridge offers.</summary>
    public int IdeStreams { get; init; } = 4;
}
