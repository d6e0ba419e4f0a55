using TsmLab.Platforms.Cca.Abi;

namespace TsmLab.Platforms.Cca.Firmware;

/// <summary>Choices of the RMM model where the sources disagree or are silent.</summary>
public sealed record RmmOptions
{
    /// <summary>RMI_EXIT_VDEV_VALIDATE_MAPPING's number (0x09 v4 patch, default; 0x08 RMM 2.0-bet3).</summary>
    public ValidateMappingExitNumbering ValidateMappingExit { get; init; } = ValidateMappingExitNumbering.V4Patch;

    /// <summary>Granules RMI_RTT_DEV_VALIDATE validates per call before returning its progress (KVM loops) — TsmLab choice.</summary>
    public int ValidatePagesPerCall { get; init; } = 16;

    /// <summary>The IDE stream the RMM programs at connect and names as default_stream_id in LOCK.</summary>
    public byte IdeStreamId { get; init; }

    /// <summary>The exit number for <see cref="ValidateMappingExit"/>.</summary>
    public ulong ValidateMappingExitReason => ValidateMappingExit == ValidateMappingExitNumbering.Rmm20Bet3 ? 0x08ul : 0x09ul;
}
