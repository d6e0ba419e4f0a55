using System.Diagnostics;
using TsmLab.Abi;
using TsmLab.Kernel;
using TsmLab.Platforms.Cca;
using TsmLab.Platforms.SevTio;
using TsmLab.Tdisp.Device;
using TsmLab.Tdisp.Wire;
using TsmLab.Tracing;
using TsmLab.Vmm;

namespace TsmLab.Hosts.Demo;

/// <summary>The platforms the demo can run.</summary>
public enum DemoPlatform
{
    Cca,
    Sev,
}

/// <summary>
/// The main job: on a platform's built-in host, the VMM's assignment sequence (KVM VM, VFIO,
/// iommufd objects, TSM_INFO), then the guest's TSM driver: lock (bind, evidence fetched and
/// checked against the firmware's digests), accept (MMIO validated, RUN), DMA enable, and
/// unlock. Every crossing goes to the trace log; <c>progress</c> sees each step as it ends.
/// </summary>
public static class PlatformDemo
{
    /// <summary>The platform's name on the command line and in results.</summary>
    public static string Name(this DemoPlatform p) => p == DemoPlatform.Cca ? "cca" : "sev";

    /// <summary>Whether a platform serves a profile (SEV-TIO's guest messages have no scope-profile form).</summary>
    public static bool Supports(this DemoPlatform p, TsmAbiProfile profile) => p == DemoPlatform.Cca || profile == TsmAbiProfile.OpArch;

    public static DemoResult Run(DemoPlatform platform, TsmAbiProfile profile, TraceLog log, Action<DemoStep>? progress = null) =>
        platform == DemoPlatform.Cca ? RunCca(profile, log, progress) : RunSev(log, progress);

    private static DemoResult RunCca(TsmAbiProfile profile, TraceLog log, Action<DemoStep>? progress)
    {
        var clock = Stopwatch.StartNew();
        var run = new Recorder("cca", log, progress);
        CcaRealmSession? s = null;
        try
        {
            s = CcaRealmSession.Start(profile, onBoot: k => HostTracing.Attach(k, log));
        }
        catch (InvalidOperationException e)
        {
            run.Add("vmm", "assign", false, e.Message, TdiState.ConfigUnlocked, 0);
            return run.Result("cca", profile, TdiState.ConfigUnlocked, false, false, clock);
        }
        var device = s.Device;
        var tdi = device.FindInterface(TdiFunctionId.FromRid(device.Interfaces[0].FunctionId.Rid))!;
        run.AddAssignment(s.Assignment);
        var g = s.Guest;
        run.Step("guest", "lock: bind, fetch evidence, check digests", () => (g.Lock(), g.Failure ?? "evidence matches the RSI_VDEV_GET_INFO digests"), tdi);
        bool evidence = g.Evidence is not null;
        run.Step("guest", "accept: validate MMIO, RUN, enable DMA", () => (g.Accept(), g.Failure ?? "DMA enabled"), tdi);
        var reached = tdi.State;
        bool dma = g.DmaEnabled;
        run.Step("guest", "unlock", () => (g.Unlock(), g.Failure ?? "unlocked"), tdi);
        return run.Result("cca", profile, reached, evidence, dma, clock, tdi.State);
    }

    private static DemoResult RunSev(TraceLog log, Action<DemoStep>? progress)
    {
        var clock = Stopwatch.StartNew();
        var run = new Recorder("sev", log, progress);
        var s = SevTioSession.Start(onBoot: k => HostTracing.Attach(k, log));
        var device = s.Device;
        var tdi = device.FindInterface(TdiFunctionId.FromRid(s.Function.Address.RequesterId))!;
        run.AddAssignment(s.Assignment);
        if (!s.Prepared) return run.Result("sev", TsmAbiProfile.OpArch, TdiState.ConfigUnlocked, false, false, clock);
        var g = s.Guest;
        run.Step("guest", "lock: bind, TDI_INFO(CERTS|MEAS|REPORT), check digests", () => Sev(g.Lock(), "evidence verified"), tdi);
        bool evidence = g.Evidence is not null;
        run.Step("guest", "accept: MMIO_VALIDATE each range, RUN", () => Sev(g.Accept(), "validated, RUN"), tdi);
        var reached = tdi.State;
        run.Step("guest", "enable DMA: SDTE_WRITE", () => Sev(g.EnableDma(), "DMA enabled"), tdi);
        bool dma = run.LastOk;
        run.Step("guest", "unlock", () => Sev(g.Unlock(), "unlocked"), tdi);
        return run.Result("sev", TsmAbiProfile.OpArch, reached, evidence, dma, clock, tdi.State);
    }

    private static (bool, string) Sev(Platforms.SevTio.Guest.GuestResult r, string ok) =>
        (r.IsOk, r.IsOk ? ok : $"{r.Outcome} (status {r.Status}, exit_info_2 0x{r.ExitInfo2:x})");

    /// <summary>Collects steps, times them, reports progress, counts TSM requests from the log.</summary>
    private sealed class Recorder(string platform, TraceLog log, Action<DemoStep>? progress)
    {
        private readonly List<DemoStep> steps = new();
        private readonly long firstSeq = log.Events.Count == 0 ? 0 : log.Events[^1].Seq;

        public bool LastOk => steps.Count > 0 && steps[^1].Ok;

        public void Add(string layer, string name, bool ok, string detail, TdiState state, double ms)
        {
            var step = new DemoStep(platform, layer, name, ok, detail, state, ms);
            steps.Add(step);
            progress?.Invoke(step);
        }

        public void AddAssignment(DeviceAssignment a)
        {
            foreach (var s in a.Steps) Add("vmm", s.Call, s.Ok, s.Ok ? s.Detail : s.ResultText, TdiState.ConfigUnlocked, 0);
        }

        public void Step(string layer, string name, Func<(bool Ok, string Detail)> act, Tdi tdi)
        {
            if (!LastOk) return; // a failed step ends the run: nothing after it would be meaningful
            var t = Stopwatch.StartNew();
            var (ok, detail) = act();
            Add(layer, name, ok, detail, tdi.State, t.Elapsed.TotalMilliseconds);
        }

        public DemoResult Result(string host, TsmAbiProfile profile, TdiState reached, bool evidence, bool dma, Stopwatch clock, TdiState final = TdiState.ConfigUnlocked)
        {
            int requests = log.Events.Count(e => e.Seq > firstSeq && e.Kind == TraceKind.Ioctl && e.Name == "IOMMU_VDEVICE_TSM_REQ");
            return new DemoResult(platform, host, profile, steps, reached, final, evidence, dma, requests, clock.Elapsed.TotalMilliseconds);
        }
    }
}
