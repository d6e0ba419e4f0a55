using System.Net;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using TsmLab.EmuSocket;
using TsmLab.Tdisp.Device;

namespace TsmLab.Bench;

/// <summary>
/// One NORMAL round trip on DMTF's emulator socket protocol against <c>tsmlab device serve</c>'s
/// server (an SPDM GET_VERSION in a DOE object, answered by the device's mailbox), against the
/// anchor measured in the same run: the same-sized frame echoed by a bare loopback TCP server with
/// TCP_NODELAY. Target (issue 12): little more than the loopback round trip. Both servers run on
/// their own thread in this process; the client is <see cref="EmuSocketConnection"/>.
/// </summary>
[MemoryDiagnoser]
public class EmuSocketRoundTripBench
{
    private static readonly byte[] GetVersion = [0x01, 0x00, 0x01, 0x00, 0x03, 0x00, 0x00, 0x00, 0x10, 0x84, 0x00, 0x00];
    private readonly CancellationTokenSource stop = new();
    private TcpListener echoListener = null!;
    private EmuSocketConnection echo = null!, device = null!;

    [GlobalSetup]
    public void Setup()
    {
        echoListener = new TcpListener(IPAddress.Loopback, 0);
        echoListener.Start();
        new Thread(Echo) { IsBackground = true }.Start();
        echo = Connect(((IPEndPoint)echoListener.LocalEndpoint).Port);

        var ready = new PortWriter();
        var server = new DeviceServer(() => TdispPciDevice.CreateDefault(), ready, TextWriter.Null) { Port = 0 };
        new Thread(() => server.Run(stop.Token)) { IsBackground = true }.Start();
        ready.Listening.Wait();
        device = Connect(ready.Port);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        device.Send(EmuSocketProtocol.Shutdown, []);
        device.Receive();
        stop.Cancel();
        echo.Dispose();
        device.Dispose();
        echoListener.Stop();
    }

    [Benchmark(Baseline = true, Description = "loopback echo, 24 B frame")]
    public int LoopbackEcho()
    {
        echo.Send(EmuSocketProtocol.Normal, GetVersion);
        echo.Receive();
        return echo.Payload.Length;
    }

    [Benchmark(Description = "device serve: NORMAL GET_VERSION")]
    public int DeviceServeGetVersion()
    {
        device.Send(EmuSocketProtocol.Normal, GetVersion);
        device.Receive();
        return device.Payload.Length;
    }

    private static EmuSocketConnection Connect(int port)
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Connect(IPAddress.Loopback, port);
        return new EmuSocketConnection(s);
    }

    /// <summary>The anchor: echoes every byte back, one send per receive, TCP_NODELAY.</summary>
    private void Echo()
    {
        using var s = echoListener.AcceptSocket();
        s.NoDelay = true;
        var buffer = new byte[65536];
        try
        {
            int n;
            while ((n = s.Receive(buffer)) > 0) s.Send(buffer, 0, n, SocketFlags.None);
        }
        catch (SocketException)
        {
        }
    }

    /// <summary>Learns the server's port from its listening line.</summary>
    private sealed class PortWriter : StringWriter
    {
        public ManualResetEventSlim Listening { get; } = new();
        public int Port { get; private set; }

        public override void WriteLine(string? value)
        {
            if (value is not null && value.StartsWith("listening on 127.0.0.1:", StringComparison.Ordinal))
            {
                Port = int.Parse(value.AsSpan(value.LastIndexOf(':') + 1), System.Globalization.CultureInfo.InvariantCulture);
                Listening.Set();
            }
        }
    }
}
