namespace TsmLab.Abi;

/// <summary>
/// The global op namespace of the op-arch profile: every op has one number for every
/// architecture, and an arch-private op is valid only for its architecture. Follows
/// <c>iommufd_vdevice_tsm_req_op_valid</c> of the kamalca tree (VALIDATE_MMIO and SET_TDI_STATE
/// for all three arches, SEV_ENABLE/DISABLE_DMA only for SEV) and tags the Arm integration
/// tree's object ops 5-7 as CCA-private (TsmLab; KC itself rejects 5-7) op 8 (TDX evidence
/// read, TsmLab) as TDX-private and op 9 (SEV-TIO's TDI_INFO guest message, TsmLab) as SEV-private.
/// </summary>
public static class TsmOpNamespace
{
    /// <summary>True for CCA, SEV and TDX.</summary>
    public static bool IsKnownArch(uint arch) => arch is (uint)TvmArch.Cca or (uint)TvmArch.Sev or (uint)TvmArch.Tdx;

    /// <summary>Whether <paramref name="op"/> is defined for <paramref name="arch"/>.</summary>
    public static bool IsValidFor(uint op, TvmArch arch) => op switch
    {
        (uint)TsmReqOp.ValidateMmio or (uint)TsmReqOp.SetTdiState => true,
        (uint)TsmReqOp.SevEnableDma or (uint)TsmReqOp.SevDisableDma or (uint)TsmReqOp.SevTdiInfo => arch == TvmArch.Sev,
        (uint)TsmReqOp.ReadObject or (uint)TsmReqOp.RegenObject or (uint)TsmReqOp.ObjectInfo => arch == TvmArch.Cca,
        (uint)TsmReqOp.TdxReadEvidence => arch == TvmArch.Tdx,
        _ => false,
    };

    /// <summary>The architecture an op is private to, or None for an arch-neutral op.</summary>
    public static TvmArch OwnerOf(TsmReqOp op) => op switch
    {
        TsmReqOp.SevEnableDma or TsmReqOp.SevDisableDma or TsmReqOp.SevTdiInfo => TvmArch.Sev,
        TsmReqOp.ReadObject or TsmReqOp.RegenObject or TsmReqOp.ObjectInfo => TvmArch.Cca,
        TsmReqOp.TdxReadEvidence => TvmArch.Tdx,
        _ => TvmArch.None,
    };
}
