using TsmLab.Faults;
using TsmLab.Kernel;
using TsmLab.Tdisp.Wire;
using Xunit.Abstractions;

namespace TsmLab.Tests.Faults;

/// <summary>
/// fail-nth over each platform's guest flow (lock with evidence, accept, DMA, unlock): for every
/// fault point, the Nth hit fails, for N over the whole flow. After each fault nothing throws, the
/// VMM's exit leaves no context, VM, binding or bound TDI behind, every TDI of the device is in a
/// state TDISP allows with no host binding (CONFIG_UNLOCKED, or ERROR awaiting STOP), and a run from
/// a clean start succeeds.
/// </summary>
public abstract class FaultWalkTests(ITestOutputHelper output)
{
    /// <summary>At most this many N per point and platform (evenly spread, always the first and the last).</summary>
    private const int MaxWalk = 24;

    private sealed record Flow(HostKernel Kernel, Process Vmm, Func<TdiState> DeviceState, Func<bool> Run);

    /// <summary>A registered platform's demo host with its VMM and guest; the flow is the guest's lock, accept, DMA enable, unlock.</summary>
    private static Flow Start(string platform)
    {
        var s = TsmLab.Platforms.PlatformRegistry.Find(platform)!.Start(TsmLab.Abi.TsmAbiProfile.OpArch, null);
        Assert.True(s.Prepared);
        var g = s.Guest;
        return new Flow(s.Kernel, s.Assignment.Calls.Process, () => s.DeviceTdiState,
            () => g.Lock().Ok && g.Accept().Ok && g.EnableDma().Ok && g.Unlock().Ok);
    }

    public static TheoryData<FaultPoint> Points()
    {
        var d = new TheoryData<FaultPoint>();
        foreach (var f in Enum.GetValues<FaultPoint>()) d.Add(f);
        return d;
    }

    private static IEnumerable<int> Walk(int hits)
    {
        if (hits <= MaxWalk) return Enumerable.Range(1, hits);
        return Enumerable.Range(0, MaxWalk).Select(i => 1 + (int)((long)i * (hits - 1) / (MaxWalk - 1))).Distinct();
    }

    /// <summary>Runs the walk of <paramref name="point"/> over <paramref name="platform"/>'s guest flow.</summary>
    protected void WalkGuestFlow(string platform, FaultPoint point)
    {
        Func<Flow> start = () => Start(platform);

        // Count the hits of a clean run (a plan that never fires).
        var counting = new FaultPlan(point, 0);
        var clean = start();
        using (counting.Activate()) Assert.True(clean.Run(), "the clean flow must pass");
        int hits = counting.Hits;
        output.WriteLine($"{platform} {point}: {hits} hits in the flow");
        if (point == FaultPoint.Allocation) Assert.Equal(0, hits); // objects are allocated before the guest runs
        var outcomes = new Dictionary<string, int>();

        foreach (int n in Walk(hits))
        {
            var flow = start();
            var plan = new FaultPlan(point, n);
            bool ok;
            using (plan.Activate()) ok = flow.Run();
            Assert.True(plan.Fired, $"N={n}: the fault never fired");
            string key = ok ? "flow completed anyway" : "flow failed";
            outcomes[key] = outcomes.GetValueOrDefault(key) + 1;

            flow.Vmm.Exit();
            string at = $"{platform} {plan.FiredAt}";
            Assert.True(flow.Kernel.IommufdContexts.Count == 0, $"{at}: a context is left");
            Assert.True(flow.Kernel.Functions.All(f => f.Tdi is null), $"{at}: a TDI is still bound");
            Assert.True(flow.Kernel.VfioDevices.All(v => v.OpenCount == 0), $"{at}: a VFIO binding is left");
            var left = flow.DeviceState();
            Assert.True(left is TdiState.ConfigUnlocked or TdiState.Error, $"{at}: the TDI was left {left} with no host binding");
        }
        output.WriteLine(string.Join(", ", outcomes.Select(kv => $"{kv.Key}: {kv.Value}")));

        // A clean start afterwards: nothing global was damaged.
        Assert.True(start().Run(), "a clean run after the faults must pass");
    }

    /// <summary>Runs the walk of <paramref name="point"/> over the VMM's assignment sequence on one host.</summary>
    protected void WalkAssignment(FaultPoint point)
    {
        var (kernel, platform) = TsmLab.Tests.Kernel.TestHosts.Boot(TsmLab.Abi.TvmArch.Cca);
        var plan = new TsmLab.Vmm.AssignmentPlan("/dev/vfio/devices/vfio0", TsmLab.Tests.Kernel.TestHosts.VmTypeFor(TsmLab.Abi.TvmArch.Cca),
            TsmLab.Abi.IommuViommuAlloc.TypeArmRealmSmmuV3OrAmd, TsmLab.Tests.Kernel.TestHosts.GuestAddress);
        bool Assign(FaultPlan? faults, out Process vmm)
        {
            vmm = kernel.CreateProcess();
            var a = new TsmLab.Vmm.DeviceAssignment(vmm, plan);
            using (faults?.Activate()) return a.Prepare() && a.Bind();
        }

        var counting = new FaultPlan(point, 0);
        Assert.True(Assign(counting, out var first));
        first.Exit();
        output.WriteLine($"{point}: {counting.Hits} hits in the assignment");
        Assert.True(counting.Hits > 0);
        foreach (int n in Walk(counting.Hits))
        {
            var faults = new FaultPlan(point, n);
            bool ok = Assign(faults, out var vmm);
            Assert.True(faults.Fired);
            vmm.Exit();
            string at = $"{faults.FiredAt} (assignment {(ok ? "completed" : "failed")})";
            Assert.True(kernel.IommufdContexts.Count == 0, $"{at}: a context is left");
            Assert.True(kernel.Functions.All(f => f.Tdi is null), $"{at}: a TDI is still bound");
            Assert.True(!kernel.Vms.Any(), $"{at}: a VM is left");
            Assert.True(kernel.VfioDevices.All(v => v.OpenCount == 0), $"{at}: a VFIO binding is left");
            Assert.Equal(platform.Binds, platform.Unbinds);
            // The same host, a new VMM: assigns and binds again.
            Assert.True(Assign(null, out var again), $"{at}: the host cannot assign again");
            again.Exit();
        }
    }
}

/// <summary>fail-nth over the CCA guest flow (one class per platform, so the walks run in parallel).</summary>
public sealed class CcaFaultWalkTests(ITestOutputHelper output) : FaultWalkTests(output)
{
    [Theory]
    [MemberData(nameof(Points))]
    public void EveryNthFault_LeavesTheModelConsistent_AndACleanRetrySucceeds(FaultPoint point) => WalkGuestFlow("cca", point);
}

/// <summary>fail-nth over the TDX guest flow.</summary>
public sealed class TdxFaultWalkTests(ITestOutputHelper output) : FaultWalkTests(output)
{
    [Theory]
    [MemberData(nameof(Points))]
    public void EveryNthFault_LeavesTheModelConsistent_AndACleanRetrySucceeds(FaultPoint point) => WalkGuestFlow("tdx", point);
}

/// <summary>fail-nth over the SEV-TIO guest flow.</summary>
public sealed class SevFaultWalkTests(ITestOutputHelper output) : FaultWalkTests(output)
{
    [Theory]
    [MemberData(nameof(Points))]
    public void EveryNthFault_LeavesTheModelConsistent_AndACleanRetrySucceeds(FaultPoint point) => WalkGuestFlow("sev", point);
}

/// <summary>fail-nth over the VMM's assignment sequence.</summary>
public sealed class AssignmentFaultWalkTests(ITestOutputHelper output) : FaultWalkTests(output)
{
    [Theory]
    [InlineData(FaultPoint.Allocation)]
    [InlineData(FaultPoint.MemoryCopy)]
    public void EveryNthFault_InTheVmmsAssignment_LeavesNoTrace_AndTheSameHostAssignsAgain(FaultPoint point) => WalkAssignment(point);
}
