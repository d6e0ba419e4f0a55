using TsmLab.Tdisp.Device;
using TsmLab.Tests.Cli;

namespace TsmLab.Tests.EmuSocket;

/// <summary>A host file whose DSM is a responder on the emulator socket protocol ("doe": "tcp:HOST:PORT", docs/hosts.md).</summary>
public sealed class RemoteDsmHostFileTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("tsmlab-remote-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private string HostFile(string json)
    {
        string path = Path.Combine(dir, "host.json");
        File.WriteAllText(path, json);
        return path;
    }

    [Theory]
    [InlineData("sev")]
    [InlineData("cca")]
    [InlineData("tdx")]
    public void PlatformHost_WithItsDsmBehindDeviceServe_ReplaysItsExample_LineForLine(string platform)
    {
        using var s = Server.Start();
        string host = HostFile($$"""{ "base": "{{platform}}", "name": "{{platform}}-remote", "doe": "tcp:127.0.0.1:{{s.Port}}" }""");
        var (_, answers) = ExampleScript.Check($"{platform}-assign.jsonl", "--host", host);
        Assert.True(answers.Count > 20);
        // The firmware authenticated the remote device over SPDM through the host's relay and the socket.
        Assert.Equal(1, s.DevicesCreated);
    }

    [Fact]
    public void AWrongProvisionedRoot_MakesTheHostNotBoot_WithOneLine()
    {
        using var s = Server.Start();
        var other = new DeviceIdentity(DeviceConfiguration.Default with { Identity = DeviceConfiguration.Default.Identity with { Seed = "another vendor" } }).RootCertificate;
        string rootPath = Path.Combine(dir, "root.der");
        File.WriteAllBytes(rootPath, other.RawData);
        string host = HostFile($$"""{ "base": "sev", "doe": "tcp:127.0.0.1:{{s.Port}}", "spdmRoot": "root.der" }""");
        var (rc, _, e) = CliRunner.Run("", "info", "--host", host);
        Assert.Equal(2, rc);
        Assert.Contains("does not boot", e);
        Assert.Single(e.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Theory]
    [InlineData("127.0.0.1:2323", "is not tcp:HOST:PORT")]
    [InlineData("tcp:127.0.0.1:0", "is not tcp:HOST:PORT")]
    [InlineData("tcp::99", "is not tcp:HOST:PORT")]
    public void ABadEndpoint_IsAHostFileError(string doe, string message)
    {
        var (rc, _, e) = CliRunner.Run("", "info", "--host", HostFile($$"""{ "base": "sev", "doe": "{{doe}}" }"""));
        Assert.Equal(2, rc);
        Assert.Contains(message, e);
    }

    [Fact]
    public void NobodyListening_IsAHostFileError_NamingTheEndpoint()
    {
        var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        l.Start();
        int port = ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        var (rc, _, e) = CliRunner.Run("", "info", "--host", HostFile($$"""{ "base": "sev", "doe": "tcp:127.0.0.1:{{port}}" }"""));
        Assert.Equal(2, rc);
        Assert.Contains($"cannot connect to 127.0.0.1:{port}", e);
    }

    [Fact]
    public void ASpdmRootThatIsNotACertificate_IsAHostFileError()
    {
        File.WriteAllBytes(Path.Combine(dir, "bad.der"), [1, 2, 3]);
        var (rc, _, e) = CliRunner.Run("", "info", "--host", HostFile("""{ "base": "sev", "spdmRoot": "bad.der" }"""));
        Assert.Equal(2, rc);
        Assert.Contains("field 'spdmRoot': not a DER or PEM X.509 certificate", e);
    }
}
