using System.Text.Json;
using TsmLab.Tests.Cli;

namespace TsmLab.Tests.Hosts;

public sealed class HostFileTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("tsmlab-hosts-").FullName;

    public void Dispose() => Directory.Delete(dir, true);

    private string Write(string name, string text)
    {
        string path = Path.Combine(dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void HostFile_WithItsOwnDevice_BootsThePlatformWithThatDevice()
    {
        string device = TsmLab.Tdisp.Device.DefaultDevice.Json.Replace("\"0xabcd\"", "\"0x1234\"", StringComparison.Ordinal).Replace("\"count\": 4", "\"count\": 2", StringComparison.Ordinal);
        Write("dev.json", device);
        string host = Write("lab.json", """{ "name": "lab1", "base": "cca", "profile": "scope", "device": "dev.json" }""");
        var (rc, o, e) = CliRunner.Run("", "info", "--host", host, "--json");
        Assert.True(rc == 0, e);
        using var doc = JsonDocument.Parse(o);
        Assert.Equal("lab1", doc.RootElement.GetProperty("host").GetProperty("name").GetString());
        Assert.Equal("scope", doc.RootElement.GetProperty("host").GetProperty("profile").GetString());
        var functions = doc.RootElement.GetProperty("functions").EnumerateArray().ToList();
        Assert.Equal(3, functions.Count);
        Assert.All(functions, f => Assert.Equal("0x1234", f.GetProperty("vendor").GetString()));
        Assert.Equal("tsm0", functions[0].GetProperty("connected").GetString());
    }

    [Theory]
    [InlineData("missing.json", null, "cannot read host file")]
    [InlineData("bad.json", "{ nope", "line 1: not valid JSON")]
    [InlineData("arr.json", "[1]", "the top level must be an object")]
    [InlineData("nobase.json", "{}", "missing field 'base'")]
    [InlineData("unknownbase.json", """{ "base": "sgx" }""", "field 'base': unknown host 'sgx'")]
    [InlineData("field.json", """{ "base": "cca", "colour": "red" }""", "unknown field 'colour'")]
    [InlineData("profile.json", """{ "base": "cca", "profile": "v9" }""", "field 'profile'")]
    [InlineData("type.json", """{ "base": 7 }""", "field 'base' must be a string")]
    [InlineData("nodevice.json", """{ "base": "sev", "device": "none.json" }""", "field 'device': cannot read")]
    [InlineData("baddevice.json", """{ "base": "sev", "device": "garbage.json" }""", "not a valid device configuration")]
    public void BadHostFile_Exits2WithOneLineNamingTheProblem(string name, string? text, string message)
    {
        Write("garbage.json", "{ \"bus\": 1 }");
        string path = text is null ? Path.Combine(dir, name) : Write(name, text);
        var (rc, o, e) = CliRunner.Run("", "replay", "--host", path);
        Assert.Equal(2, rc);
        Assert.Equal("", o);
        Assert.Single(e.Trim().Split('\n'));
        Assert.Contains(message, e);
        Assert.Contains("docs/hosts.md", e);
    }
}
