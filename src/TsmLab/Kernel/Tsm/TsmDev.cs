using TsmLab.Abi;

namespace TsmLab.Kernel.Tsm;

/// <summary>
/// A registered TSM (<c>struct tsm_dev</c>, drivers/virt/coco/tsm-core.c): class device
/// <c>tsmN</c> with an IDA id, its parent (the platform device) and its link ops; plus TsmLab's
/// count of the TSM_REQ numbers (scope values, op numbers) that reached its backend, from which
/// <see cref="TsmNumberUse"/> shows where one number means different things at different TSMs.
/// </summary>
public sealed class TsmDev
{
    /// <summary>Scope values counted: PCI_INFO .. PCI_DEBUG_WRITE.</summary>
    internal const int ScopeSlots = 4;
    /// <summary>Op numbers counted: 0 .. 63 (the op namespace's bitmap width in TSM_INFO).</summary>
    internal const int OpSlots = 64;

    // Counters written with Interlocked by concurrent requests (no lock: each slot is independent).
    private readonly long[] scopeServed = new long[ScopeSlots];
    private readonly long[] opServed = new long[OpSlots];

    internal TsmDev(int id, string parent, ILinkTsmPlatform platform)
    {
        Id = id;
        Parent = parent;
        Platform = platform;
    }

    public int Id { get; }
    /// <summary>"tsmN".</summary>
    public string Name => $"tsm{Id}";
    /// <summary>The parent device's name (e.g. the PSP's PCI function or "arm-cca-host").</summary>
    public string Parent { get; }
    public ILinkTsmPlatform Platform { get; }
    /// <summary>Only link TSMs are modelled on the host; devsec TSMs live in guests.</summary>
    public bool IsLink => true;
    public bool Registered { get; internal set; } = true;

    /// <summary>Requests with scope <paramref name="scope"/> this TSM's backend received.</summary>
    public long ScopeServed(TsmReqScope scope) => (uint)scope < ScopeSlots ? Interlocked.Read(ref scopeServed[(int)scope]) : 0;

    /// <summary>Requests with op <paramref name="op"/> this TSM's backend received.</summary>
    public long OpServed(TsmReqOp op) => (uint)op < OpSlots ? Interlocked.Read(ref opServed[(int)op]) : 0;

    /// <summary>Counts one request handed to the backend (called by the TSM core after every check passed).</summary>
    internal void CountServed(TsmAbiProfile profile, TsmReqScope scope, TsmReqOp op)
    {
        if (profile == TsmAbiProfile.Scope) { if ((uint)scope < ScopeSlots) Interlocked.Increment(ref scopeServed[(int)scope]); }
        else if ((uint)op < OpSlots) Interlocked.Increment(ref opServed[(int)op]);
    }
}
