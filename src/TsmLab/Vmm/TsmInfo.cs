using TsmLab.Abi;
using TsmLab.Tdisp.Wire;

namespace TsmLab.Vmm;

/// <summary>IOMMU_VDEVICE_TSM_INFO's answer, decoded.</summary>
public readonly record struct TsmInfo(
    uint TsmId, TvmArch TvmArch, uint Bus, TdiState TdiState, uint Flags, ulong SupportedOps,
    uint MaxRequestLength, uint MaxResponseLength, uint ScopeMask, uint Rejections)
{
    public bool Connected => (Flags & IommuVdeviceTsmInfo.FlagConnected) != 0;
    public bool Bound => (Flags & IommuVdeviceTsmInfo.FlagBound) != 0;
    public bool UncertainCompletion => (Flags & IommuVdeviceTsmInfo.FlagUncertainCompletion) != 0;

    /// <summary>"tsmN", or null when not connected.</summary>
    public string? TsmName => TsmId == IommuVdeviceTsmInfo.NoTsm ? null : $"tsm{TsmId}";

    public bool Supports(TsmReqOp op) => (SupportedOps & (1ul << (int)op)) != 0;

    public static TsmInfo Parse(ReadOnlySpan<byte> s) => new(
        Le.U32(s, IommuVdeviceTsmInfo.OutTsmId), (TvmArch)Le.U32(s, IommuVdeviceTsmInfo.OutTvmArch),
        Le.U32(s, IommuVdeviceTsmInfo.OutBus), (TdiState)Le.U32(s, IommuVdeviceTsmInfo.OutTdiState),
        Le.U32(s, IommuVdeviceTsmInfo.OutFlags), Le.U64(s, IommuVdeviceTsmInfo.OutSupportedOps),
        Le.U32(s, IommuVdeviceTsmInfo.OutMaxReqLen), Le.U32(s, IommuVdeviceTsmInfo.OutMaxRespLen),
        Le.U32(s, IommuVdeviceTsmInfo.OutScopeMask), Le.U32(s, IommuVdeviceTsmInfo.OutRejections));
}
