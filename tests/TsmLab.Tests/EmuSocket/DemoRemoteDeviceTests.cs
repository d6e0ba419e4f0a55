using System.Text.Json;
using TsmLab.Tdisp.Device;
using TsmLab.Tests.Cli;

namespace TsmLab.Tests.EmuSocket;

/// <summary><c>tsmlab demo --device tcp:HOST:PORT</c>: the platform flows against a responder on the emulator socket protocol (docs/interop.md).</summary>
public sealed class DemoRemoteDeviceTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("tsmlab-demo-remote-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static JsonElement Platform(string json, int index = 0) => JsonDocument.Parse(json).RootElement.GetProperty("platforms")[index];

    [Theory]
    [InlineData("cca")]
    [InlineData("sev")]
    [InlineData("tdx")]
    public void APlatform_ReachesRun_AgainstDeviceServe(string platform)
    {
        using var s = Server.Start();
        var (rc, o, e) = CliRunner.Run("", "demo", "--platform", platform, "--device", $"tcp:127.0.0.1:{s.Port}", "--json");
        Assert.True(rc == 0, o + e);
        var p = Platform(o);
        Assert.True(p.GetProperty("passed").GetBoolean());
        Assert.Equal($"tcp:127.0.0.1:{s.Port}", p.GetProperty("device").GetString());
        Assert.Equal("Run", p.GetProperty("tdi_state_reached").GetString());
        var first = p.GetProperty("steps")[0];
        Assert.Equal("host", first.GetProperty("layer").GetString());
        Assert.StartsWith("connect tcp:127.0.0.1:", first.GetProperty("name").GetString());
        // The demo's device was the server's: it built exactly one, and the run ended the connection with SHUTDOWN.
        Assert.Equal(1, s.DevicesCreated);
        Assert.Equal(0, s.Exit());
    }

    [Fact]
    public void EveryPlatform_InTurn_AgainstOneServer_ReachesRun()
    {
        using var s = Server.Start();
        var (rc, o, e) = CliRunner.Run("", "demo", "--device", $"tcp:127.0.0.1:{s.Port}", "--json");
        Assert.True(rc == 0, o + e);
        var platforms = JsonDocument.Parse(o).RootElement.GetProperty("platforms");
        Assert.Equal(3, platforms.GetArrayLength());
        foreach (var p in platforms.EnumerateArray()) Assert.True(p.GetProperty("passed").GetBoolean(), p.GetProperty("platform").GetString());
        // CONTINUE after the first two runs kept one device (and the server) for all three; SHUTDOWN after the last.
        Assert.Equal(1, s.DevicesCreated);
        Assert.Equal(0, s.Exit());
    }

    [Theory]
    [InlineData("cca")]
    [InlineData("sev")]
    [InlineData("tdx")]
    public void AWrongProvisionedRoot_StopsAtBoot_WithTheTsmsReason(string platform)
    {
        using var s = Server.Start();
        var other = new DeviceIdentity(DeviceConfiguration.Default with { Identity = DeviceConfiguration.Default.Identity with { Seed = "another vendor" } }).RootCertificate;
        string root = Path.Combine(dir, "root.der");
        File.WriteAllBytes(root, other.RawData);
        var (rc, o, _) = CliRunner.Run("", "demo", "--platform", platform, "--device", $"tcp:127.0.0.1:{s.Port}", "--spdm-root", root, "--json");
        Assert.Equal(1, rc);
        var p = Platform(o);
        Assert.False(p.GetProperty("passed").GetBoolean());
        var steps = p.GetProperty("steps");
        Assert.Equal(2, steps.GetArrayLength());
        Assert.True(steps[0].GetProperty("ok").GetBoolean());
        Assert.False(steps[1].GetProperty("ok").GetBoolean());
        Assert.Equal($"boot {platform}", steps[1].GetProperty("name").GetString());
        Assert.Contains("provisioned root", steps[1].GetProperty("detail").GetString());
    }

    [Fact]
    public void NobodyListening_IsAFailedFirstStep_NamingTheEndpoint()
    {
        var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        l.Start();
        int port = ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        var (rc, o, _) = CliRunner.Run("", "demo", "--platform", "sev", "--device", $"tcp:127.0.0.1:{port}");
        Assert.Equal(1, rc);
        Assert.Contains($"FAIL host  connect tcp:127.0.0.1:{port} -> cannot connect to 127.0.0.1:{port}", o);
        Assert.Contains("result: FAILED", o);
    }

    [Theory]
    [InlineData("127.0.0.1:2323", null, "--device '127.0.0.1:2323' is not tcp:HOST:PORT")]
    [InlineData("tcp:127.0.0.1:70000", null, "is not tcp:HOST:PORT")]
    [InlineData(null, "root.der", "--spdm-root needs --device")]
    [InlineData("tcp:127.0.0.1:2323", "missing.der", "cannot use --spdm-root")]
    public void UsageErrors_AreOneLine_Exit2(string? device, string? root, string message)
    {
        var args = new List<string> { "demo" };
        if (device is not null) args.AddRange(["--device", device]);
        if (root is not null) args.AddRange(["--spdm-root", Path.Combine(dir, root)]);
        var (rc, o, e) = CliRunner.Run("", [.. args]);
        Assert.Equal(2, rc);
        Assert.Equal("", o);
        Assert.Contains(message, e);
        Assert.Single(e.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }
}
