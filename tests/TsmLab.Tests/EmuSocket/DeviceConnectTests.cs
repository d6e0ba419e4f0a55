using System.Buffers.Binary;
using System.Text.Json;
using TsmLab.EmuSocket;
using TsmLab.Tdisp.Device;
using TsmLab.Tests.Cli;
using TsmLab.Tracing;

namespace TsmLab.Tests.EmuSocket;

/// <summary><c>tsmlab device connect</c> against <c>tsmlab device serve</c> over real loopback sockets, and against responders that misbehave.</summary>
public sealed class DeviceConnectTests
{
    private static readonly System.Security.Cryptography.X509Certificates.X509Certificate2 Root = new DeviceIdentity(DeviceConfiguration.Default).RootCertificate;

    [Fact]
    public void AgainstDeviceServe_EveryStepSucceeds_AndTheServerEndsOnShutdown()
    {
        using var s = Server.Start();
        var steps = DeviceConnectFlow.Run(new DeviceConnectOptions { Host = "127.0.0.1", Port = s.Port, RootCertificate = Root });
        Assert.Equal(DeviceConnectFlow.StepNames, steps.Select(x => x.Name));
        Assert.All(steps, x => Assert.True(x.Status == ConnectStepStatus.Ok, $"{x.Name}: {x.Answer}"));
        Assert.Equal(0, s.Exit());
    }

    [Fact]
    public void Pcap_HasOnlyPreSessionMessagesInTheClear_AndEveryIdeKmAndTdispMessageInTypeTwo()
    {
        var ms = new MemoryStream();
        using var s = Server.Start();
        using (var pcap = new PcapWriter(ms))
        {
            var steps = DeviceConnectFlow.Run(new DeviceConnectOptions { Host = "127.0.0.1", Port = s.Port, RootCertificate = Root, Pcap = pcap });
            Assert.All(steps, x => Assert.Equal(ConnectStepStatus.Ok, x.Status));
        }
        var types = new List<(byte Type, byte Code)>();
        var bytes = ms.ToArray();
        for (int off = 24; off < bytes.Length;)
        {
            int len = (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(off + 8));
            var obj = bytes.AsSpan(off + 16, len);
            types.Add((obj[2], obj.Length > 9 ? obj[9] : (byte)0));
            off += 16 + len;
        }
        int firstSecured = types.FindIndex(t => t.Type == 2);
        Assert.True(firstSecured > 0);
        // Before the session: discovery (0) and plain SPDM (1), never a VENDOR_DEFINED (0xFE / 0x7E).
        Assert.All(types.Take(firstSecured), t => Assert.True(t.Type is 0 or 1 && t.Code is not 0xFE and not 0x7E));
        // After it: only secured objects (FINISH and everything after travel in type 2).
        Assert.All(types.Skip(firstSecured), t => Assert.Equal(2, t.Type));
        Assert.True(types.Count(t => t.Type == 2) > 30);
    }

    [Fact]
    public void AWrongRoot_FailsAtCertificate_AndTheRestIsSkipped_ButTheConnectionIsShutDown()
    {
        var other = new DeviceIdentity(DeviceConfiguration.Default with { Identity = DeviceConfiguration.Default.Identity with { Seed = "another device" } });
        using var s = Server.Start();
        var steps = DeviceConnectFlow.Run(new DeviceConnectOptions { Host = "127.0.0.1", Port = s.Port, RootCertificate = other.RootCertificate });
        var failed = Assert.Single(steps, x => x.Status == ConnectStepStatus.Failed);
        Assert.Equal("CERTIFICATE", failed.Name);
        Assert.Equal(ConnectStepStatus.Skipped, steps.Single(x => x.Name == "TDISP LOCK_INTERFACE").Status);
        Assert.Equal(ConnectStepStatus.Skipped, steps.Single(x => x.Name == "END_SESSION").Status);
        Assert.Equal(ConnectStepStatus.Ok, steps[^1].Status);
        Assert.Equal(0, s.Exit());
    }

    [Fact]
    public void PskSession_WithTheRespondersKeyAndHint_EverythingSucceeds_AndAWrongKeyFailsAtTheSessionStep()
    {
        byte[] psk = "TestPskData\0"u8.ToArray(), hint = "TestPskHint\0"u8.ToArray();
        TsmLab.Kernel.Pci.IPciEndpoint Device() => new TdispPciDevice(DeviceSecurityManager.CreateDefault(), new TsmLab.Spdm.Responder.SpdmResponderSettings
        {
            Capabilities = new TsmLab.Spdm.Responder.SpdmResponderSettings().Capabilities | TsmLab.Spdm.Wire.SpdmCapabilities.PskWithContext,
            Psk = psk,
            PskHint = hint,
        });
        using (var s = Server.Start(device: Device))
        {
            var steps = DeviceConnectFlow.Run(new DeviceConnectOptions { Host = "127.0.0.1", Port = s.Port, RootCertificate = Root, Session = ConnectSessionKind.Psk, Psk = psk, PskHint = hint });
            Assert.All(steps, x => Assert.True(x.Status == ConnectStepStatus.Ok, $"{x.Name}: {x.Answer}"));
            Assert.StartsWith("PSK_EXCHANGE + PSK_FINISH", steps.Single(x => x.Name == "session").Answer);
        }
        using (var s = Server.Start(device: Device))
        {
            var steps = DeviceConnectFlow.Run(new DeviceConnectOptions { Host = "127.0.0.1", Port = s.Port, RootCertificate = Root, Session = ConnectSessionKind.Psk, Psk = [1, 2, 3], PskHint = hint });
            Assert.Equal("session", Assert.Single(steps, x => x.Status == ConnectStepStatus.Failed).Name);
        }
    }

    [Fact]
    public void PskSession_AgainstAResponderWithoutPsk_FailsAtTheSessionStep()
    {
        using var s = Server.Start();
        var steps = DeviceConnectFlow.Run(new DeviceConnectOptions { Host = "127.0.0.1", Port = s.Port, RootCertificate = Root, Session = ConnectSessionKind.Psk, Psk = [1, 2, 3] });
        Assert.Equal("session", Assert.Single(steps, x => x.Status == ConnectStepStatus.Failed).Name);
    }

    [Fact]
    public void NobodyListening_FailsTheFirstStep_AndSkipsEveryOther()
    {
        var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        l.Start();
        int port = ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        var steps = DeviceConnectFlow.Run(new DeviceConnectOptions { Host = "127.0.0.1", Port = port, RootCertificate = Root });
        Assert.Equal(ConnectStepStatus.Failed, steps[0].Status);
        Assert.All(steps.Skip(1), x => Assert.Equal(ConnectStepStatus.Skipped, x.Status));
    }

    [Fact]
    public void AResponderThatAnswersGarbage_FailsAStepByName_NeverThrows()
    {
        // A server that greets, then answers every NORMAL with a DOE object of random bytes.
        var rng = new Random(7);
        using var fake = new GarbageResponder(rng);
        var steps = DeviceConnectFlow.Run(new DeviceConnectOptions { Host = "127.0.0.1", Port = fake.Port, RootCertificate = Root });
        Assert.Equal(ConnectStepStatus.Ok, steps[0].Status);
        var failed = Assert.Single(steps, x => x.Status == ConnectStepStatus.Failed && x.Name != "SHUTDOWN");
        Assert.True(failed.Answer.Length > 0);
    }

    [Fact]
    public void TheCommand_PrintsJson_AndExitsZero_WhenEveryStepSucceeded()
    {
        using var s = Server.Start();
        var (rc, o, e) = CliRunner.Run("", "device", "connect", s.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--json");
        Assert.True(rc == 0, e + o);
        using var doc = JsonDocument.Parse(o);
        Assert.True(doc.RootElement.GetProperty("ok").GetBoolean());
        Assert.Equal(DeviceConnectFlow.StepNames.Count, doc.RootElement.GetProperty("steps").GetArrayLength());
        Assert.Equal("ok", doc.RootElement.GetProperty("steps")[0].GetProperty("status").GetString());
    }

    [Theory]
    [InlineData(new[] { "host:" }, "invalid endpoint 'host:'")]
    [InlineData(new[] { "0" }, "invalid endpoint '0'")]
    [InlineData(new[] { "2323", "--psk", "xyz" }, "--psk 'xyz' is not 1 to 64 bytes of hex")]
    [InlineData(new[] { "2323", "--psk", "00", "--psk-hint", "0xzz" }, "starts with 0x but is not hex")]
    [InlineData(new[] { "2323", "--psk-hint", "TestPskHint" }, "--psk-hint needs --psk")]
    [InlineData(new[] { "2323", "--session", "psk" }, "--session psk needs --psk HEX")]
    [InlineData(new[] { "2323", "--root-cert", "/nonexistent/root.der" }, "cannot use root certificate")]
    [InlineData(new[] { "2323", "--session", "tls" }, "unknown session kind 'tls'")]
    public void BadArguments_AreUsageErrors(string[] args, string message)
    {
        var (rc, _, e) = CliRunner.Run("", ["device", "connect", .. args]);
        Assert.Equal(2, rc);
        Assert.Contains(message, e);
    }

    [Fact]
    public void ARootCertificateThatIsNotOne_IsAUsageError()
    {
        string path = Path.Combine(Path.GetTempPath(), $"tsmlab-notcert-{Environment.ProcessId}.der");
        File.WriteAllBytes(path, [1, 2, 3]);
        try
        {
            var (rc, _, e) = CliRunner.Run("", "device", "connect", "2323", "--root-cert", path);
            Assert.Equal(2, rc);
            Assert.Contains("not a DER or PEM X.509 certificate", e);
        }
        finally { File.Delete(path); }
    }

    /// <summary>Greets, then answers each NORMAL with a well-framed DOE object full of random bytes.</summary>
    private sealed class GarbageResponder : IDisposable
    {
        private readonly System.Net.Sockets.TcpListener listener = new(System.Net.IPAddress.Loopback, 0);
        private readonly Thread thread;

        public GarbageResponder(Random rng)
        {
            listener.Start();
            Port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
            thread = new Thread(() =>
            {
                using var sock = listener.AcceptSocket();
                using var conn = new EmuSocketConnection(sock);
                while (conn.Receive() == EmuReceiveStatus.Frame)
                {
                    uint cmd = conn.Header.Command;
                    if (cmd == EmuSocketProtocol.Test) { conn.Send(cmd, EmuSocketProtocol.ServerHello); continue; }
                    if (cmd != EmuSocketProtocol.Normal) { conn.Send(cmd, []); break; }
                    var junk = new byte[8 + 4 * rng.Next(1, 40)];
                    rng.NextBytes(junk);
                    BinaryPrimitives.WriteUInt16LittleEndian(junk, 1);
                    junk[2] = conn.Payload.Length > 2 ? conn.Payload[2] : (byte)1;
                    junk[3] = 0;
                    BinaryPrimitives.WriteUInt32LittleEndian(junk.AsSpan(4), (uint)(junk.Length / 4));
                    conn.Send(EmuSocketProtocol.Normal, junk);
                }
            }) { IsBackground = true };
            thread.Start();
        }

        public int Port { get; }

        public void Dispose()
        {
            thread.Join(Timing.Bound);
            listener.Stop();
        }
    }
}
