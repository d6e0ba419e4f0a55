using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using TsmLab.Abi;
using TsmLab.Hosts.Demo;
using TsmLab.Input;
using TsmLab.Platforms;
using TsmLab.Tracing;

namespace TsmLab.Cli;

/// <summary>
/// <c>tsmlab demo [--platform NAME|all] [--profile op-arch|scope] [--device tcp:HOST:PORT [--spdm-root FILE]]
/// [--json] [--trace FILE] [--report FILE.html] [--pcap FILE]</c>: the full device assignment of every
/// platform on its built-in host, with progress per step and a closing table. With <c>--device</c>
/// the host's DSM is the responder at that endpoint (DMTF's emulator socket protocol; each platform
/// connects in turn, every run but the last ends with CONTINUE). Exits 0 only when every platform
/// run reached RUN with DMA enabled and its evidence verified (and unlocked again); 1 otherwise
/// (an endpoint that does not answer is a failed first step); 2 for a usage error.
/// </summary>
internal static class DemoCommand
{
    public static Command Create(CliIo io)
    {
        string[] names = ["all", .. PlatformRegistry.All.Select(p => p.Name)];
        var platform = ChoiceOption.Create("--platform", "platform", "The platform to run, or all", names, "all");
        var profile = ChoiceOption.Create("--profile", "profile", "IOMMU_VDEVICE_TSM_REQ ABI profile", TsmAbiProfiles.Names, "op-arch");
        var json = new Option<bool>("--json") { Description = "Print one JSON object with every step's result (no progress text)" };
        var device = new Option<string>("--device") { Description = "Put the DSM behind DMTF's emulator socket protocol: tcp:HOST:PORT (e.g. tsmlab device serve)", HelpName = "tcp:HOST:PORT" };
        var spdmRoot = new Option<FileInfo>("--spdm-root") { Description = "With --device: the root certificate (DER or PEM) the host provisions for the device's chain (default: the built-in device's root)", HelpName = "FILE" };
        var trace = new TraceOption();
        var cmd = new Command("demo", "Run the full device assignment of every platform on its built-in host");
        cmd.Options.Add(platform);
        cmd.Options.Add(profile);
        cmd.Options.Add(device);
        cmd.Options.Add(spdmRoot);
        cmd.Options.Add(json);
        trace.AddTo(cmd);
        cmd.SetAction(pr =>
        {
            // Both options are ChoiceOptions: any other value was refused at parse time.
            string pname = pr.GetValue(platform)!;
            IPlatform[] platforms = pname == "all" ? [.. PlatformRegistry.All] : [PlatformRegistry.Find(pname)!];
            var p = TsmAbiProfiles.Parse(pr.GetValue(profile)!);
            var skipped = platforms.Where(x => !x.Supports(p)).ToList();
            if (skipped.Count == platforms.Length)
            {
                io.Error.WriteLine($"tsmlab demo: {string.Join(", ", skipped.Select(x => x.Name))} has no {p.Name()}-profile guest requests; use --profile op-arch");
                return Program.UsageError;
            }
            if (!TryDevice(pr.GetValue(device), pr.GetValue(spdmRoot), io.Error, out var remote)) return Program.UsageError;
            bool asJson = pr.GetValue(json);
            if (!trace.TryCreate(pr, io.Error, out var created)) return Program.UsageError;
            var log = created ?? new TraceLog();
            var results = new List<DemoResult>();
            var runs = platforms.Where(x => x.Supports(p)).ToList();
            foreach (var x in runs)
            {
                if (!asJson) io.Out.WriteLine($"== {x.Name}: host {x.Hosts[0].Name}{(remote is null ? "" : $", DSM at {remote.Endpoint}")}, profile {p.Name()}");
                results.Add(PlatformDemo.Run(x, p, log, asJson ? null : s => Progress(io.Out, s), remote, leaveRunning: x != runs[^1]));
            }
            bool passed = results.All(r => r.Passed);
            if (asJson) io.Out.WriteLine(Json(p, results, skipped, passed));
            else Summary(io.Out, results, skipped, passed);
            var header = new[] { "platform", "steps", "TDI state reached", "evidence verified", "DMA enabled", "requests", "time (ms)", "result" };
            var rows = results.Select(r => (IReadOnlyList<string>)[r.Platform, r.Steps.Count.ToString(CultureInfo.InvariantCulture), r.Reached.ToString(),
                r.EvidenceVerified ? "yes" : "no", r.DmaEnabled ? "yes" : "no", r.Requests.ToString(CultureInfo.InvariantCulture),
                r.ElapsedMs.ToString("0.0", CultureInfo.InvariantCulture), r.Passed ? "passed" : "FAILED"]).ToList();
            log.DoeCapture?.Dispose();
            if (!trace.Write(pr, trace.WantsEvents(pr) ? log : null, io.Error,
                    $"tsmlab demo ({string.Join(", ", results.Select(r => r.Platform))}, profile {p.Name()})", header, rows))
                return Program.UsageError;
            return passed ? 0 : 1;
        });
        return cmd;
    }

    /// <summary>Reads --device and --spdm-root; false (one line on <paramref name="error"/>) for a usage error.</summary>
    private static bool TryDevice(string? endpoint, FileInfo? root, TextWriter error, out DemoDevice? device)
    {
        device = null;
        if (endpoint is null)
        {
            if (root is null) return true;
            error.WriteLine("tsmlab demo: --spdm-root needs --device (the built-in device chains to its own root)");
            return false;
        }
        if (!Hosts.RemoteDsm.TryParse(endpoint, out string host, out int port))
        {
            error.WriteLine($"tsmlab demo: --device '{Printable.Of(endpoint)}' is not tcp:HOST:PORT (port 1-65535)");
            return false;
        }
        System.Security.Cryptography.X509Certificates.X509Certificate2? cert = null;
        if (root is not null && (cert = Spdm.Responder.SpdmIdentityFiles.ReadCertificateFile(root.FullName, "root certificate", out string problem)) is null)
        {
            error.WriteLine($"tsmlab demo: cannot use --spdm-root '{Printable.Of(root.FullName)}': {problem}");
            return false;
        }
        device = new DemoDevice(host, port, cert);
        return true;
    }

    private static void Progress(TextWriter o, DemoStep s)
    {
        string time = s.ElapsedMs > 0 ? $" ({s.ElapsedMs.ToString("0.0", CultureInfo.InvariantCulture)} ms)" : "";
        o.WriteLine($"  [{s.Platform}] {(s.Ok ? "ok  " : "FAIL")} {s.Layer,-5} {s.Name}{(s.Detail.Length > 0 ? " -> " + s.Detail : "")}  [TDI {s.TdiState}]{time}");
        o.Flush();
    }

    private static void Summary(TextWriter o, List<DemoResult> results, List<IPlatform> skipped, bool passed)
    {
        o.WriteLine();
        o.WriteLine($"{"platform",-9} {"steps",5}  {"TDI state reached",-17}  {"evidence",-8}  {"DMA",-3}  {"requests",8}  {"time",9}  result");
        foreach (var r in results)
            o.WriteLine($"{r.Platform,-9} {r.Steps.Count,5}  {r.Reached,-17}  {(r.EvidenceVerified ? "verified" : "no"),-8}  {(r.DmaEnabled ? "on" : "off"),-3}  {r.Requests,8}  {r.ElapsedMs.ToString("0.0", CultureInfo.InvariantCulture),6} ms  {(r.Passed ? "passed" : "FAILED")}");
        foreach (var s in skipped) o.WriteLine($"{s.Name,-9} skipped: no guest requests in this profile");
        o.WriteLine(passed
            ? "result: every platform reached RUN with DMA enabled and verified evidence, and unlocked again"
            : "result: FAILED (see the steps above)");
    }

    private static string Json(TsmAbiProfile profile, List<DemoResult> results, List<IPlatform> skipped, bool passed)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            w.WriteString("profile", profile.Name());
            w.WriteBoolean("passed", passed);
            w.WriteStartArray("platforms");
            foreach (var r in results)
            {
                w.WriteStartObject();
                w.WriteString("platform", r.Platform);
                w.WriteString("host", r.Host);
                if (r.Device.Length > 0) w.WriteString("device", r.Device);
                w.WriteBoolean("passed", r.Passed);
                w.WriteString("tdi_state_reached", r.Reached.ToString());
                w.WriteString("tdi_state_final", r.Final.ToString());
                w.WriteBoolean("evidence_verified", r.EvidenceVerified);
                w.WriteBoolean("dma_enabled", r.DmaEnabled);
                w.WriteNumber("requests", r.Requests);
                w.WriteNumber("elapsed_ms", Math.Round(r.ElapsedMs, 3));
                w.WriteStartArray("steps");
                foreach (var s in r.Steps)
                {
                    w.WriteStartObject();
                    w.WriteString("layer", s.Layer);
                    w.WriteString("name", s.Name);
                    w.WriteBoolean("ok", s.Ok);
                    w.WriteString("detail", s.Detail);
                    w.WriteString("tdi_state", s.TdiState.ToString());
                    w.WriteNumber("elapsed_ms", Math.Round(s.ElapsedMs, 3));
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("skipped");
            foreach (var s in skipped) w.WriteStringValue(s.Name);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }
}
