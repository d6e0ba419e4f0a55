using System.Diagnostics;
using System.Security.Cryptography.X509Certificates;
using TsmLab.Kernel;
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
    /// <summary>
    /// Runs <paramref name="platform"/>'s flow in <paramref name="profile"/>, recording every crossing
    /// in <paramref name="log"/>. With <paramref name="device"/>, the demo host's DSM is the responder
    /// at that endpoint (the first step connects to it) and the TDI states shown are the TSM's view
    /// (the host cannot look inside a remote device); <paramref name="leaveRunning"/> ends that
    /// connection with CONTINUE rather than SHUTDOWN, so the next platform's run can connect again.
    /// </summary>
    public static DemoResult Run(IPlatform platform, TsmAbiProfile profile, TraceLog log, Action<DemoStep>? progress = null,
        DemoDevice? device = null, bool leaveRunning = false)
    {
        var clock = Stopwatch.StartNew();
        var run = new Recorder(platform.Name, log, progress, device?.Endpoint ?? "");
        HostConfiguration? config = null;
        EmuSocket.SocketDoeMailbox? mailbox = null;
        if (device is not null)
        {
            config = RemoteDsm.Connect(platform.Hosts[0].Configuration(profile), device.Host, device.Port, device.Root, leaveRunning, out mailbox, out string problem);
            run.Device($"connect {device.Endpoint}", config is not null, config is null ? problem : "TEST answered; the DSM's DOE mailbox is this socket");
            if (config is null) return run.Result(platform.Hosts[0].Name, profile, TdiState.ConfigUnlocked, false, false, clock);
        }
        try
        {
            IPlatformSession session;
            long bootSeq = log.Events.Count == 0 ? 0 : log.Events[^1].Seq;
            try { session = platform.Start(profile, log, config); }
            catch (InvalidOperationException e) when (device is not null)
            {
                // The remote responder did not let the host's connect succeed (HostKernel.Boot refuses
                // to boot a host whose configured connect fails): a failed step with the TSM's reason.
                run.Device($"boot {platform.Hosts[0].Name}", false, e.Message + LastReason(log, bootSeq, e.Message));
                return run.Result(platform.Hosts[0].Name, profile, TdiState.ConfigUnlocked, false, false, clock);
            }
            Func<TdiState> state = device is null ? () => session.DeviceTdiState : () => TsmView(session.Kernel);
            run.AddAssignment(session.Assignment);
            string host = session.Kernel.Configuration.Name;
            if (!session.Prepared) return run.Result(host, profile, TdiState.ConfigUnlocked, false, false, clock);
            var g = session.Guest;
            var labels = platform.Labels;
            run.Step(labels.Lock, g.Lock, state);
            bool evidence = g.EvidenceVerified;
            run.Step(labels.Accept, g.Accept, state);
            var reached = state();
            run.Step(labels.EnableDma, g.EnableDma, state);
            bool dma = g.DmaEnabled;
            run.Step(labels.Unlock, g.Unlock, state);
            return run.Result(host, profile, reached, evidence, dma, clock, state());
        }
        finally { mailbox?.Dispose(); }
    }

    /// <summary>
    /// "; EVENT: REASON" for the last traced event after <paramref name="afterSeq"/> that gives a
    /// reason <paramref name="said"/> does not already contain, or empty.
    /// </summary>
    private static string LastReason(TraceLog log, long afterSeq, string said)
    {
        for (int i = log.Events.Count - 1; i >= 0 && log.Events[i].Seq > afterSeq; i--)
            foreach (var f in log.Events[i].Fields)
                if (f.Name == "reason") return said.Contains(f.Value, StringComparison.Ordinal) ? "" : $"; {log.Events[i].Name}: {f.Value}";
        return "";
    }

    /// <summary>The TDI state of the host's bound function as its TSM reports it (CONFIG_UNLOCKED when none is bound).</summary>
    private static TdiState TsmView(Kernel.HostKernel kernel)
    {
        foreach (var f in kernel.Functions)
            if (f.Tdi is not null) return kernel.Tsm.StateOf(f);
        return TdiState.ConfigUnlocked;
    }

    /// <summary>Collects steps, times them, reports progress, counts TSM requests from the log; <paramref name="device"/> is the remote DSM's endpoint, or empty.</summary>
    private sealed class Recorder(string platform, TraceLog log, Action<DemoStep>? progress, string device)
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

        public void Device(string name, bool ok, string detail) => Add("host", name, ok, detail, TdiState.ConfigUnlocked, 0);

        public void AddAssignment(DeviceAssignment a)
        {
            foreach (var s in a.Steps) Add("vmm", s.Call, s.Ok, s.Ok ? s.Detail : s.ResultText, TdiState.ConfigUnlocked, 0);
        }

        public void Step(string name, Func<GuestStepResult> act, Func<TdiState> state)
        {
            if (!LastOk) return; // a failed step ends the run: nothing after it would be meaningful
            var t = Stopwatch.StartNew();
            var r = act();
            string detail = r.Ok ? r.Detail : $"{r.Detail} [refused by {r.RefusedBy.ToString().ToLowerInvariant()}]";
            Add("guest", name, r.Ok, detail, state(), t.Elapsed.TotalMilliseconds, r);
        }

        public DemoResult Result(string host, TsmAbiProfile profile, TdiState reached, bool evidence, bool dma, Stopwatch clock, TdiState final = TdiState.ConfigUnlocked)
        {
            int requests = log.Events.Count(e => e.Seq > firstSeq && e.Kind == TraceKind.Ioctl && e.Name == "IOMMU_VDEVICE_TSM_REQ");
            return new DemoResult(platform, host, profile, steps, reached, final, evidence, dma, requests, clock.Elapsed.TotalMilliseconds) { Device = device };
        }
    }
}

/// <summary>
/// A DSM the demo reaches over DMTF's emulator socket protocol instead of the built-in device:
/// <c>tcp:HOST:PORT</c>, and the root the host provisions for its certificate chain (null: the
/// built-in device's root, which is also <c>tsmlab device serve</c>'s default identity).
/// </summary>
public sealed record DemoDevice(string Host, int Port, X509Certificate2? Root)
{
    public string Endpoint => $"{RemoteDsm.Prefix}{Host}:{Port}";
}
