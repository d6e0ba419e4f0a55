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

    /// <summary>Counter stripes: requests on different CPUs count in different cache lines, so counting adds no sharing between them.</summary>
    private const int Stripes = 8;
    /// <summary>One stripe: the scope slots, then the op slots, padded to whole 64-byte lines.</summary>
    private const int StripeLongs = (ScopeSlots + OpSlots + 7) & ~7;

    // Written with Interlocked by concurrent requests (no lock: each slot is independent); a read sums the stripes.
    private readonly long[] served = new long[Stripes * StripeLongs + 8];

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
    public long ScopeServed(TsmReqScope scope) => (uint)scope < ScopeSlots ? Sum((int)scope) : 0;

    /// <summary>Requests with op <paramref name="op"/> this TSM's backend received.</summary>
    public long OpServed(TsmReqOp op) => (uint)op < OpSlots ? Sum(ScopeSlots + (int)op) : 0;

    /// <summary>Counts one request handed to the backend (called by the TSM core after every check passed).</summary>
    internal void CountServed(TsmAbiProfile profile, TsmReqScope scope, TsmReqOp op)
    {
        int slot = profile == TsmAbiProfile.Scope ? ((uint)scope < ScopeSlots ? (int)scope : -1) : ((uint)op < OpSlots ? ScopeSlots + (int)op : -1);
        if (slot < 0) return;
        // 8 longs of padding before stripe 0 keep it off the array header's line.
        int stripe = Thread.GetCurrentProcessorId() & (Stripes - 1);
        Interlocked.Increment(ref served[8 + stripe * StripeLongs + slot]);
    }

    private long Sum(int slot)
    {
        long total = 0;
        for (int stripe = 0; stripe < Stripes; stripe++) total += Interlocked.Read(ref served[8 + stripe * StripeLongs + slot]);
        return total;
    }
}
