namespace TsmLab.Faults;

/// <summary>Where a fault plan can make the model fail (docs/reliability.md).</summary>
public enum FaultPoint
{
    /// <summary>A call from the host into the platform firmware (an RMI SMC, a PSP command): not run, answered with a firmware error (RMI_BUSY, PSP SPDM_ERROR).</summary>
    FirmwareCall,
    /// <summary>A DOE exchange with the device's mailbox: the mailbox is busy and never answers (the transport gives up: no response).</summary>
    DoeExchange,
    /// <summary>A device's answer: it arrives cut to half its length (a misbehaving or reset device).</summary>
    DeviceResponse,
    /// <summary>A kernel copy from or to user memory (copy_from_user / copy_to_user): EFAULT.</summary>
    MemoryCopy,
    /// <summary>A kernel object allocation (an iommufd object): ENOMEM.</summary>
    Allocation,
}

/// <summary>
/// The idea of the kernel's fail-nth: the <see cref="Nth"/> time the flow reaches
/// <see cref="Point"/>, that operation fails the way the point describes; every other time it runs
/// normally. A plan is active for the flow (the async context) that calls <see cref="Activate"/>,
/// so tests on other threads are not affected. With no plan active the hooks cost one volatile read.
/// </summary>
public sealed class FaultPlan
{
    private static readonly AsyncLocal<FaultPlan?> Current = new();
    private static int active;
    private int hits;
    private string? firedAt;

    /// <param name="point">Where to fail.</param>
    /// <param name="nth">Which hit fails (1 = the first); 0 never fails (counts hits only).</param>
    public FaultPlan(FaultPoint point, int nth)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(nth);
        Point = point;
        Nth = nth;
    }

    public FaultPoint Point { get; }
    public int Nth { get; }

    /// <summary>How many times the flow reached <see cref="Point"/> so far.</summary>
    public int Hits => Volatile.Read(ref hits);

    /// <summary>True once the fault was injected.</summary>
    public bool Fired => firedAt is not null;

    /// <summary>What failed (the hook's description), or null.</summary>
    public string? FiredAt => Volatile.Read(ref firedAt);

    /// <summary>Makes the plan current for this flow until the result is disposed.</summary>
    public IDisposable Activate()
    {
        var previous = Current.Value;
        Current.Value = this;
        Interlocked.Increment(ref active);
        return new Scope(previous);
    }

    /// <summary>
    /// True while any plan is active: a fault point whose description must be formatted checks
    /// this first, so a flow without a plan formats nothing (no allocation per firmware call).
    /// </summary>
    public static bool Armed => Volatile.Read(ref active) != 0;

    /// <summary>
    /// Called at a fault point: true when the current plan says this hit fails (the caller then
    /// fails the way the point describes). <paramref name="where"/> names the operation.
    /// </summary>
    public static bool Fail(FaultPoint point, string where)
    {
        if (Volatile.Read(ref active) == 0) return false;
        var plan = Current.Value;
        if (plan is null || plan.Point != point) return false;
        int n = Interlocked.Increment(ref plan.hits);
        if (n != plan.Nth) return false;
        Volatile.Write(ref plan.firedAt, $"{point} #{n}: {where}");
        return true;
    }

    private sealed class Scope(FaultPlan? previous) : IDisposable
    {
        private int disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref disposed, 1) != 0) return;
            Current.Value = previous;
            Interlocked.Decrement(ref active);
        }
    }
}
