using System.Text.Json;

namespace TsmLab.Tests.Cli;

public class InfoAndDemoCommandTests
{
    [Fact]
    public void Demo_OnDefaultHost_RunsTheSequenceAndExits0()
    {
        var (rc, o, _) = CliRunner.Run("", "demo");
        Assert.Equal(0, rc);
        Assert.Contains("IOMMU_VDEVICE_TSM_INFO", o);
        Assert.Contains("-6 ENXIO", o);
        Assert.Contains("has no TSM behind it", o);
    }

    [Fact]
    public void Demo_ScopeProfile_Exits0()
    {
        var (rc, o, _) = CliRunner.Run("", "demo", "--profile", "scope");
        Assert.Equal(0, rc);
        Assert.Contains("scope=PCI_INFO", o);
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
            Assert.True(rc == 0, e);
            var events = File.ReadAllLines(path).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
            Assert.Equal(Enumerable.Range(1, events.Count).Select(i => (long)i), events.Select(x => x.GetProperty("seq").GetInt64()));
            var req = events.Single(x => x.GetProperty("name").GetString() == "IOMMU_VDEVICE_TSM_REQ");
            Assert.Equal("vmm", req.GetProperty("layer").GetString());
            Assert.Equal("ioctl", req.GetProperty("kind").GetString());
            Assert.Equal("-6 ENXIO", req.GetProperty("result").GetString());
            Assert.Equal("2", req.GetProperty("fields").GetProperty("op").GetString());
            Assert.Contains(events, x => x.GetProperty("kind").GetString() == "rejection" && x.GetProperty("name").GetString() == "NotConnected");
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
            Assert.Equal(events, arrows.Count);
            Assert.All(arrows, g => Assert.False(string.IsNullOrEmpty((string?)g.Element(Svg + "title"))));
            Assert.Contains(arrows, g => ((string?)g.Attribute("data-detail"))!.Contains("IOMMU_VDEVICE_TSM_REQ") && ((string?)g.Attribute("class"))!.Contains("bad"));
            Assert.Equal(6, seq.Elements(Svg + "text").Count(t => (string?)t.Attribute("class") == "lane"));
            Assert.Single(doc.Descendants(Svg + "svg"), s => (string?)s.Attribute("id") == "timeline");
            Assert.Equal(15, doc.Descendants(Xhtml + "table").Single().Descendants(Xhtml + "tr").Count() - 1);
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
            File.WriteAllText(path, TsmLab.Tracing.HtmlReport.Render("t", log));
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
