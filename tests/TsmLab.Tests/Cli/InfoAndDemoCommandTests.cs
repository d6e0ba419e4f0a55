using System.Text.Json;

namespace TsmLab.Tests.Cli;

public class InfoAndDemoCommandTests
{
    [Fact]
    public void Demo_NoArguments_RunsEveryPlatformToRunAndExits0()
    {
        var (rc, o, e) = CliRunner.Run("", "demo");
        Assert.True(rc == 0, o + e);
        Assert.Matches(@"(?m)^cca\s+\d+\s+Run\s+verified\s+on\s+\d+\s+[\d.]+ ms\s+passed$", o);
        Assert.Matches(@"(?m)^sev\s+\d+\s+Run\s+verified\s+on\s+\d+\s+[\d.]+ ms\s+passed$", o);
        Assert.Contains("[cca] ok   guest lock", o);
        Assert.Contains("[sev] ok   guest enable DMA", o);
    }

    [Fact]
    public void Demo_Json_HasEveryStepOfEveryPlatform()
    {
        var (rc, o, _) = CliRunner.Run("", "demo", "--json");
        Assert.Equal(0, rc);
        using var doc = JsonDocument.Parse(o);
        var root = doc.RootElement;
        Assert.True(root.GetProperty("passed").GetBoolean());
        Assert.Equal("op-arch", root.GetProperty("profile").GetString());
        var platforms = root.GetProperty("platforms").EnumerateArray().ToList();
        Assert.Equal(["cca", "sev", "tdx"], platforms.Select(p => p.GetProperty("platform").GetString()));
        foreach (var p in platforms)
        {
            Assert.True(p.GetProperty("passed").GetBoolean());
            Assert.Equal("Run", p.GetProperty("tdi_state_reached").GetString());
            Assert.Equal("ConfigUnlocked", p.GetProperty("tdi_state_final").GetString());
            Assert.True(p.GetProperty("evidence_verified").GetBoolean());
            Assert.True(p.GetProperty("dma_enabled").GetBoolean());
            Assert.True(p.GetProperty("requests").GetInt32() > 5);
            var steps = p.GetProperty("steps").EnumerateArray().ToList();
            Assert.All(steps, st => Assert.True(st.GetProperty("ok").GetBoolean()));
            Assert.Contains(steps, st => st.GetProperty("layer").GetString() == "vmm" && st.GetProperty("name").GetString()!.StartsWith("IOMMU_VDEVICE_TSM_INFO", StringComparison.Ordinal));
            Assert.Equal("ConfigLocked", steps.First(st => st.GetProperty("name").GetString()!.StartsWith("lock", StringComparison.Ordinal)).GetProperty("tdi_state").GetString());
        }
    }

    [Fact]
    public void Demo_ScopeProfile_RunsCcaAndSaysSevAndTdxAreSkipped()
    {
        var (rc, o, _) = CliRunner.Run("", "demo", "--profile", "scope", "--json");
        Assert.Equal(0, rc);
        using var doc = JsonDocument.Parse(o);
        Assert.Equal("cca", doc.RootElement.GetProperty("platforms").EnumerateArray().Single().GetProperty("platform").GetString());
        Assert.Equal(["sev", "tdx"], doc.RootElement.GetProperty("skipped").EnumerateArray().Select(e => e.GetString()));
    }

    [Theory]
    [InlineData("--platform", "sgx", "unknown platform 'sgx'")]
    [InlineData("--profile", "v4", "unknown profile 'v4'")]
    public void Demo_BadOption_Exits2WithOneLine(string option, string value, string message)
    {
        var (rc, o, e) = CliRunner.Run("", "demo", option, value);
        Assert.Equal(2, rc);
        Assert.Equal("", o);
        Assert.Contains(message, e);
        Assert.Single(e.Trim().Split('\n'));
    }

    [Fact]
    public void Demo_SevInScopeProfile_Exits2()
    {
        var (rc, _, e) = CliRunner.Run("", "demo", "--platform", "sev", "--profile", "scope");
        Assert.Equal(2, rc);
        Assert.Contains("use --profile op-arch", e);
    }

    [Fact]
    public void DemoResult_PassesOnlyWithRunDmaEvidenceAndUnlock()
    {
        var step = new TsmLab.Hosts.Demo.DemoStep("x", "guest", "lock", true, "", TsmLab.Tdisp.Wire.TdiState.ConfigLocked, 1);
        var ok = new TsmLab.Hosts.Demo.DemoResult("x", "x", TsmLab.Abi.TsmAbiProfile.OpArch, [step], TsmLab.Tdisp.Wire.TdiState.Run, TsmLab.Tdisp.Wire.TdiState.ConfigUnlocked, true, true, 1, 1);
        Assert.True(ok.Passed);
        Assert.False((ok with { Reached = TsmLab.Tdisp.Wire.TdiState.ConfigLocked }).Passed);
        Assert.False((ok with { DmaEnabled = false }).Passed);
        Assert.False((ok with { EvidenceVerified = false }).Passed);
        Assert.False((ok with { Final = TsmLab.Tdisp.Wire.TdiState.Run }).Passed);
        Assert.False((ok with { Steps = [step with { Ok = false }] }).Passed);
    }

    [Fact]
    public void Info_Json_DescribesTheDefaultHost()
    {
        var (rc, o, _) = CliRunner.Run("", "info", "--json");
        Assert.Equal(0, rc);
        using var doc = JsonDocument.Parse(o);
        Assert.Equal("default", doc.RootElement.GetProperty("host").GetProperty("name").GetString());
        Assert.Equal(5, doc.RootElement.GetProperty("functions").GetArrayLength());
        Assert.Equal("0xabcd", doc.RootElement.GetProperty("functions")[0].GetProperty("vendor").GetString());
        Assert.Equal("/dev/vfio/devices/vfio0", doc.RootElement.GetProperty("functions")[0].GetProperty("vfio").GetString());
        Assert.Equal(0, doc.RootElement.GetProperty("tsms").GetArrayLength());
    }

    [Fact]
    public void Info_Tree_ShowsFunctions()
    {
        var (rc, o, _) = CliRunner.Run("", "info");
        Assert.Equal(0, rc);
        Assert.Contains("0000:01:00.0", o);
        Assert.Contains("(none registered)", o);
    }

    [Fact]
    public void Info_UnknownHost_Exits2()
    {
        var (rc, _, e) = CliRunner.Run("", "info", "--host", "nope");
        Assert.Equal(2, rc);
        Assert.Contains("unknown host 'nope'", e);
    }
}

public class TraceTests
{
    [Fact]
    public void Demo_Trace_WritesMonotonicJsonLinesWithLayersAndDecodedStructs()
    {
        string path = Path.Combine(Path.GetTempPath(), $"tsmlab-trace-{Guid.NewGuid():N}.jsonl");
        try
        {
            var (rc, _, e) = CliRunner.Run("", "demo", "--trace", path);
            Assert.True(File.ReadAllLines(path).Length > 100);
            Assert.True(rc == 0, e);
            var events = File.ReadAllLines(path).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
            Assert.Equal(Enumerable.Range(1, events.Count).Select(i => (long)i), events.Select(x => x.GetProperty("seq").GetInt64()));
            var req = events.First(x => x.GetProperty("name").GetString() == "IOMMU_VDEVICE_TSM_REQ");
            Assert.Equal("vmm", req.GetProperty("layer").GetString());
            Assert.Equal("kernel", req.GetProperty("to").GetString());
            Assert.Equal("ioctl", req.GetProperty("kind").GetString());
            Assert.True(req.GetProperty("fields").TryGetProperty("tvm_arch", out _));
            var kinds = events.Select(x => x.GetProperty("kind").GetString()).ToHashSet();
            Assert.Superset(new HashSet<string?> { "guest-exit", "ioctl", "decision", "firmware-call", "device-message", "state-change" }, kinds);
            Assert.Contains(events, x => x.GetProperty("layer").GetString() == "guest" && x.GetProperty("name").GetString() == "VMGEXIT SEV_TIO_GUEST_REQUEST");
            Assert.Contains(events, x => x.GetProperty("layer").GetString() == "firmware" && x.GetProperty("to").GetString() == "device" && x.GetProperty("name").GetString() == "LockInterface");
            Assert.Contains(events, x => x.GetProperty("kind").GetString() == "state-change" && x.GetProperty("result").GetString() == "ConfigLocked -> Run");
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Trace_UnwritablePath_Exits2()
    {
        var (rc, _, e) = CliRunner.Run("", "demo", "--trace", "/nonexistent-dir/t.jsonl");
        Assert.Equal(2, rc);
        Assert.Contains("cannot write trace file", e);
    }

    [Fact]
    public void NoTraceAttached_RecordsNothingAndChangesNoResult()
    {
        var rig = TsmLab.Tests.Kernel.TestHosts.Assigned(TsmLab.Abi.TvmArch.Cca);
        Assert.Null(rig.Kernel.Trace);
        var log = new TsmLab.Tracing.TraceLog();
        rig.Kernel.Trace = log;
        Assert.Equal(0, rig.Calls.TsmRequest(rig.IommuFd, rig.Vdev, TsmLab.Abi.TsmReqOp.SetTdiState, TsmLab.Abi.TvmArch.Cca, BitConverter.GetBytes(1u), 0, out _, out _));
        Assert.Contains(log.Events, x => x.Name == "guest_req" && x.Result == "0");
        Assert.Contains(log.Events, x => x.Name == "IOMMU_VDEVICE_TSM_REQ" && x.Fields.Any(f => f.Name == "tsm_code" && f.Value == "1511"));
    }
}

public class ReportTests
{
    private static readonly System.Xml.Linq.XNamespace Svg = "http://www.w3.org/2000/svg";
    private static readonly System.Xml.Linq.XNamespace Xhtml = "http://www.w3.org/1999/xhtml";

    private static System.Xml.Linq.XDocument Parse(string path)
    {
        var settings = new System.Xml.XmlReaderSettings { DtdProcessing = System.Xml.DtdProcessing.Ignore };
        using var r = System.Xml.XmlReader.Create(path, settings);
        return System.Xml.Linq.XDocument.Load(r);
    }

    [Fact]
    public void Demo_Report_IsSelfContainedWithDiagramTimelineAndSummary()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"tsmlab-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            string html = Path.Combine(dir, "r.html"), trace = Path.Combine(dir, "t.jsonl");
            var (rc, _, e) = CliRunner.Run("", "demo", "--report", html, "--trace", trace);
            Assert.True(rc == 0, e);
            var doc = Parse(html);
            int events = File.ReadAllLines(trace).Length;
            var seq = doc.Descendants(Svg + "svg").Single(s => (string?)s.Attribute("id") == "sequence");
            var arrows = seq.Elements(Svg + "g").Where(g => ((string?)g.Attribute("class"))?.Contains("ev") == true).ToList();
            Assert.Equal(events, arrows.Sum(g => (int)g.Attribute("data-count")!));
            Assert.True(arrows.Count < events, "identical consecutive crossings are drawn once");
            Assert.All(arrows, g => Assert.False(string.IsNullOrEmpty((string?)g.Element(Svg + "title"))));
            Assert.Contains(arrows, g => ((string?)g.Attribute("data-detail"))!.Contains("RMI_RTT_DEV_MAP") && (int)g.Attribute("data-count")! > 1);
            Assert.Contains(arrows, g => ((string?)g.Attribute("class"))!.Contains("guest-exit"));
            Assert.Equal(6, seq.Elements(Svg + "text").Count(t => (string?)t.Attribute("class") == "lane"));
            var timeline = doc.Descendants(Svg + "svg").Single(s => (string?)s.Attribute("id") == "timeline");
            Assert.Contains(timeline.Elements(Svg + "text"), t => t.Value.StartsWith("cca: TDI", StringComparison.Ordinal));
            Assert.Contains(timeline.Elements(Svg + "text"), t => t.Value.StartsWith("sev: TDI", StringComparison.Ordinal));
            Assert.Contains(timeline.Elements(Svg + "text"), t => t.Value.StartsWith("tdx: TDI", StringComparison.Ordinal));
            var rows = doc.Descendants(Xhtml + "table").Single().Descendants(Xhtml + "tr").Skip(1).ToList();
            Assert.Equal(["cca", "sev", "tdx"], rows.Select(r => r.Elements(Xhtml + "td").First().Value));
            Assert.All(rows, r => Assert.Equal("passed", r.Elements(Xhtml + "td").Last().Value));
            string text = File.ReadAllText(html);
            Assert.DoesNotContain("src=", text);
            Assert.DoesNotContain("<link", text);
            Assert.DoesNotContain("https://", text);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Report_TimelineShowsEveryTdiStateInOrder()
    {
        var dsm = TsmLab.Tdisp.Device.DeviceSecurityManager.CreateDefault();
        var log = new TsmLab.Tracing.TraceLog();
        TsmLab.Tracing.DeviceTrace.Attach(dsm, log);
        TsmLab.Tests.Tdisp.TdispTestKit.DriveTo(dsm, TsmLab.Tdisp.Wire.TdiState.Run);
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, TsmLab.Presentation.HtmlReport.Render("t", log));
            var timeline = Parse(path).Descendants(Svg + "svg").Single(s => (string?)s.Attribute("id") == "timeline");
            var states = timeline.Elements(Svg + "rect").Select(r => ((string)r.Attribute("class")!).Split(' ')[1]).ToList();
            Assert.Equal(["ConfigUnlocked", "ConfigLocked", "Run"], states);
        }
        finally { File.Delete(path); }
    }
}

public class TraceOrderTests
{
    [Fact]
    public void AnIoctl_IsNumberedBeforeWhatHappensInsideIt()
    {
        var rig = TsmLab.Tests.Kernel.TestHosts.Assigned(TsmLab.Abi.TvmArch.Cca);
        var log = new TsmLab.Tracing.TraceLog();
        rig.Kernel.Trace = log;
        rig.Calls.TsmRequest(rig.IommuFd, rig.Vdev, TsmLab.Abi.TsmReqOp.SetTdiState, TsmLab.Abi.TvmArch.Cca, BitConverter.GetBytes(1u), 0, out _, out _);
        Assert.Equal(["IOMMU_VDEVICE_TSM_REQ", "guest_req"], log.Events.Select(e => e.Name));
        Assert.Equal([1L, 2L], log.Events.Select(e => e.Seq));
    }
}
