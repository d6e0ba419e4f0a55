using System.Text.Json;
using TsmLab.Tests.Cli;


namespace TsmLab.Tests.Tracing;

/// <summary>Every trace event names each key once inside "fields", for what it is.</summary>
public sealed class TraceKeyTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("tsmlab-trace-").FullName;

    public void Dispose() => Directory.Delete(dir, true);

    private List<JsonElement> Trace(params string[] args)
    {
        string path = Path.Combine(dir, "t.jsonl");
        var (rc, _, e) = CliRunner.Run("", [.. args, "--trace", path]);
        Assert.True(rc == 0, e);
        return File.ReadAllLines(path).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
    }

    [Theory]
    [InlineData("demo", "--platform", "all")]
    [InlineData("demo", "--platform", "cca", "--profile", "scope")]
    public void EveryEvent_HasEachFieldKeyOnce(params string[] args)
    {
        var events = Trace(args);
        Assert.NotEmpty(events);
        foreach (var e in events)
        {
            var names = e.GetProperty("fields").EnumerateObject().Select(p => p.Name).ToList();
            Assert.True(names.Count == names.Distinct(StringComparer.Ordinal).Count(), $"repeated key in {e.GetRawText()}");
        }
    }

    [Fact]
    public void KvmCreateDevice_NamesTheVmFdAndTheNewDeviceFd()
    {
        var events = Trace("replay", Path.Combine(CliRunner.RepoRoot(), "examples", "assign.jsonl"));
        var create = events.First(e => e.GetProperty("name").GetString() == "KVM_CREATE_DEVICE");
        var fields = create.GetProperty("fields");
        Assert.True(fields.TryGetProperty("vm_fd", out _));
        Assert.True(fields.TryGetProperty("device_fd", out _));
        Assert.False(fields.TryGetProperty("fd", out _));
        var req = events.First(e => e.GetProperty("name").GetString() == "IOMMU_VDEVICE_TSM_REQ");
        Assert.True(req.GetProperty("fields").TryGetProperty("iommufd", out _));
        var bind = events.First(e => e.GetProperty("name").GetString() == "VFIO_DEVICE_BIND_IOMMUFD");
        Assert.True(bind.GetProperty("fields").TryGetProperty("vfio_device_fd", out _));
        Assert.True(bind.GetProperty("fields").TryGetProperty("iommufd", out _));
    }
}
