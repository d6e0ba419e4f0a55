using TsmLab.Abi;
using TsmLab.Kernel;
using TsmLab.Tracing;

namespace TsmLab.Platforms;

/// <summary>
/// What a confidential-computing platform brings to TsmLab, registered once in
/// <see cref="PlatformRegistry"/>: its name and TVM architecture, the built-in hosts it provides
/// (machine, firmware, TSM driver), how a host of it is booted with a guest and a VMM that handles
/// that guest's exits, and the labels the demo and reports show. Nothing outside the platform's
/// folder and the registry names the platform's own types (docs/design.md, "Adding a platform").
/// </summary>
public interface IPlatform
{
    /// <summary>The short name used on the command line and in results ("cca", "sev").</summary>
    string Name { get; }

    /// <summary>The name people know it by ("Arm CCA", "AMD SEV-TIO").</summary>
    string DisplayName { get; }

    /// <summary>The confidential-VM architecture its guests are (IOMMU_VDEVICE_TSM_REQ's <c>tvm_arch</c>).</summary>
    TvmArch Arch { get; }

    /// <summary>The built-in hosts it provides; the first one is the host its demo runs on.</summary>
    IReadOnlyList<PlatformHost> Hosts { get; }

    /// <summary>Whether its guests' requests have a form in <paramref name="profile"/>.</summary>
    bool Supports(TsmAbiProfile profile);

    /// <summary>What the demo calls each step of the guest's shape on this platform.</summary>
    GuestStepLabels Labels { get; }

    /// <summary>
    /// Boots its demo host in <paramref name="profile"/> (traced from the first crossing when
    /// <paramref name="trace"/> is given), starts a VMM process that runs the assignment sequence
    /// for the device's first function, and a guest whose TSM driver reaches the VMM only through
    /// the platform's exits. Nothing is bound yet. <paramref name="host"/>, when given, is booted
    /// instead of the demo host's own configuration: a variant of it (its DSM behind a socket,
    /// <c>tsmlab demo --device</c>) with the same functions and TSMs.
    /// </summary>
    IPlatformSession Start(TsmAbiProfile profile, TraceLog? trace, HostConfiguration? host = null);

    /// <summary>The firmware and guest interfaces the model speaks, for <c>tsmlab abi --platform</c>; null when the platform publishes none.</summary>
    PlatformAbi? Abi => null;
}

/// <summary>A built-in host a platform provides: its name, one line about it, and a fresh configuration per call.</summary>
public sealed record PlatformHost(string Name, string Description, Func<TsmAbiProfile, HostConfiguration> Configuration);

/// <summary>The demo's text for each step of the guest's shape on one platform.</summary>
public sealed record GuestStepLabels(string Lock, string Accept, string EnableDma, string Unlock);
