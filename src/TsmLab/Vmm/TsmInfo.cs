using TsmLab.Abi;
using TsmLab.Tdisp.Wire;
using System.Buffers.Binary;

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
        BinaryPrimitives.ReadUInt32LittleEndian(s[IommuVdeviceTsmInfo.OutTsmId..]), (TvmArch)BinaryPrimitives.ReadUInt32LittleEndian(s[IommuVdeviceTsmInfo.OutTvmArch..]),
        BinaryPrimitives.ReadUInt32LittleEndian(s[IommuVdeviceTsmInfo.OutBus..]), (TdiState)BinaryPrimitives.ReadUInt32LittleEndian(s[IommuVdeviceTsmInfo.OutTdiState..]),
        BinaryPrimitives.ReadUInt32LittleEndian(s[IommuVdeviceTsmInfo.OutFlags..]), BinaryPrimitives.ReadUInt64LittleEndian(s[IommuVdeviceTsmInfo.OutSupportedOps..]),
        BinaryPrimitives.ReadUInt32LittleEndian(s[IommuVdeviceTsmInfo.OutMaxReqLen..]), BinaryPrimitives.ReadUInt32LittleEndian(s[IommuVdeviceTsmInfo.OutMaxRespLen..]),
        BinaryPrimitives.ReadUInt32LittleEndian(s[IommuVdeviceTsmInfo.OutScopeMask..]), BinaryPrimitives.ReadUInt32LittleEndian(s[IommuVdeviceTsmInfo.OutRejections..]));
}
