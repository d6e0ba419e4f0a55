using System.Diagnostics;
using TsmLab.Abi;
using TsmLab.Platforms;
using TsmLab.Tdisp.Wire;
using TsmLab.Tracing;
using TsmLab.Vmm;

namespace TsmLab.Hosts.Demo;

/// <summary>
/// The main job, the same for every registered platform: on the platform's demo host, the VMM's
/// assignment sequence (KVM VM, VFIO, iommufd objects, TSM_INFO), then the guest's TSM driver in
/// the shape all platforms share: lock (bind, evidence checked), accept (MMIO validated, RUN),
/// enable DMA, unlock. Every crossing goes to the trace log; <c>progress</c> sees each step as it ends.
/// </summary>
public static class PlatformDemo
{
    /// <summary>Runs <paramref name="platform"/>'s flow in <paramref name="profile"/>, recording every crossing in <paramref name="log"/>.</summary>
    public static DemoResult Run(IPlatform platform, TsmAbiProfile profile, TraceLog log, Action<DemoStep>? progress = null)
    {
        var clock = Stopwatch.StartNew();
        var run = new Recorder(platform.Name, log, progress);
        var session = platform.Start(profile, log);
        run.AddAssignment(session.Assignment);
        string host = session.Kernel.Configuration.Name;
        if (!session.Prepared) return run.Result(host, profile, TdiState.ConfigUnlocked, false, false, clock);
        var g = session.Guest;
        var labels = platform.Labels;
        run.Step(labels.Lock, g.Lock, session);
        bool evidence = g.EvidenceVerified;
        run.Step(labels.Accept, g.Accept, session);
        var reached = session.DeviceTdiState;
        run.Step(labels.EnableDma, g.EnableDma, session);
        bool dma = g.DmaEnabled;
        run.Step(labels.Unlock, g.Unlock, session);
        return run.Result(host, profile, reached, evidence, dma, clock, session.DeviceTdiState);
    }

    /// <summary>Collects steps, times them, reports progress, counts TSM requests from the log.</summary>
    private sealed class Recorder(string platform, TraceLog log, Action<DemoStep>? progress)
    {
        private readonly List<DemoStep> steps = new();
        private readonly long firstSeq = log.Events.Count == 0 ? 0 : log.Events[^1].Seq;

        private bool LastOk => steps.Count > 0 && steps[^1].Ok;

        private void Add(string layer, string name, bool ok, string detail, TdiState state, double ms, GuestStepResult? guest = null)
        {
            var step = new DemoStep(platform, layer, name, ok, detail, state, ms) { Guest = guest };
            steps.Add(step);
            progress?.Invoke(step);
        }

        public void AddAssignment(DeviceAssignment a)
        {
            foreach (var s in a.Steps) Add("vmm", s.Call, s.Ok, s.Ok ? s.Detail : s.ResultText, TdiState.ConfigUnlocked, 0);
        }

        public void Step(string name, Func<GuestStepResult> act, IPlatformSession session)
        {
            if (!LastOk) return; // a failed step ends the run: nothing after it would be meaningful
            var t = Stopwatch.StartNew();
            var r = act();
            string detail = r.Ok ? r.Detail : $"{r.Detail} [refused by {r.RefusedBy.ToString().ToLowerInvariant()}]";
            Add("guest", name, r.Ok, detail, session.DeviceTdiState, t.Elapsed.TotalMilliseconds, r);
        }

        public DemoResult Result(string host, TsmAbiProfile profile, TdiState reached, bool evidence, bool dma, Stopwatch clock, TdiState final = TdiState.ConfigUnlocked)
        {
            int requests = log.Events.Count(e => e.Seq > firstSeq && e.Kind == TraceKind.Ioctl && e.Name == "IOMMU_VDEVICE_TSM_REQ");
            return new DemoResult(platform, host, profile, steps, reached, final, evidence, dma, requests, clock.Elapsed.TotalMilliseconds);
        }
    }
}
