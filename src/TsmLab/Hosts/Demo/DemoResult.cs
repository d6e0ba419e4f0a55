using TsmLab.Abi;
using TsmLab.Tdisp.Wire;

namespace TsmLab.Hosts.Demo;

/// <summary>
/// One step of a platform's assignment, as the demo shows it: who acted ("vmm" for the VMM's
/// ioctls, "guest" for the guest driver's calls), what, whether it succeeded, the device's TDI
/// state after it, and its time.
/// </summary>
public sealed record DemoStep(string Platform, string Layer, string Name, bool Ok, string Detail, TdiState TdiState, double ElapsedMs)
{
    /// <summary>For a guest step, the guest's own result (step, refusing layer, status or errno); null for the VMM's calls.</summary>
    public Platforms.GuestStepResult? Guest { get; init; }
}

/// <summary>
/// A platform's whole run: every step, the highest TDI state reached and the state it ended in,
/// whether the guest verified the evidence and enabled DMA, how many TSM requests the VMM sent,
/// and the time. <see cref="Passed"/> only when every step succeeded, RUN was reached with DMA
/// enabled and the evidence verified, and the unlock brought the TDI back to CONFIG_UNLOCKED.
/// </summary>
public sealed record DemoResult(
    string Platform, string Host, TsmAbiProfile Profile, IReadOnlyList<DemoStep> Steps, TdiState Reached, TdiState Final,
    bool EvidenceVerified, bool DmaEnabled, int Requests, double ElapsedMs)
{
    /// <summary>The endpoint of the DSM when it was a socket (<c>tcp:HOST:PORT</c>), or empty for the built-in device.</summary>
    public string Device { get; init; } = "";

    public bool Passed => Steps.Count > 0 && Steps.All(s => s.Ok) && Reached == TdiState.Run && DmaEnabled && EvidenceVerified && Final == TdiState.ConfigUnlocked;
}
