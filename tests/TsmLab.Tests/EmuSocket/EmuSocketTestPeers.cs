using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using TsmLab.EmuSocket;
using TsmLab.Tdisp.Device;
using TsmLab.Tracing;

namespace TsmLab.Tests.EmuSocket;

/// <summary>A server on an ephemeral port, run on its own thread, with its stderr and the devices it built.</summary>
internal sealed class Server : IDisposable
{
    private readonly CancellationTokenSource cancel = new();
    private readonly StringWriter error = new();
    private readonly Thread thread;
    private int exit = -1, created;
    private readonly SignalWriter output = new("listening on 127.0.0.1:");

    private Server(bool keepServing, TimeSpan? stall, PcapWriter? pcap, Func<TsmLab.Kernel.Pci.IPciEndpoint>? device)
    {
        var server = new DeviceServer(() => { Interlocked.Increment(ref created); return device?.Invoke() ?? TdispPciDevice.CreateDefault(); }, output, TextWriter.Synchronized(error))
        {
            Port = 0,
            KeepServing = keepServing,
            StallTimeout = stall ?? TimeSpan.FromSeconds(10),
            Pcap = pcap,
            TraceSink = _ => { },
        };
        thread = new Thread(() => exit = server.Run(cancel.Token)) { IsBackground = true };
        thread.Start();
        Assert.True(output.Seen.Wait(Timing.Bound), "the server did not start listening");
        Port = int.Parse(output.Line!.Split(':')[^1].Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }

    public static Server Start(bool keepServing = false, TimeSpan? stall = null, PcapWriter? pcap = null, Func<TsmLab.Kernel.Pci.IPciEndpoint>? device = null) => new(keepServing, stall, pcap, device);

    public int Port { get; }
    public int DevicesCreated => Volatile.Read(ref created);
    public string Error => error.ToString();

    public Client Connect() => Client.Connect(Port);

    public void Cancel() => cancel.Cancel();

    public int Exit()
    {
        Assert.True(thread.Join(Timing.Bound), "the server did not end");
        return exit;
    }

    public void Dispose()
    {
        cancel.Cancel();
        thread.Join(Timing.Bound);
    }
}

/// <summary>A hand-written emulator-socket client (the test's own, independent of EmuSocketConnection).</summary>
internal sealed class Client : IDisposable
{
    public static byte[] Frame(uint command, uint transport, uint size, byte[] payload)
    {
        var b = new byte[12 + payload.Length];
        new EmuSocketHeader(command, transport, size).Write(b);
        payload.CopyTo(b, 12);
        return b;
    }

    private readonly Socket socket;

    private Client(Socket socket) => this.socket = socket;

    public static Client Connect(int port)
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = 20000, NoDelay = true };
        s.Connect(IPAddress.Loopback, port);
        return new Client(s);
    }

    public (uint Command, byte[] Payload) Exchange(uint command, ReadOnlySpan<byte> payload)
    {
        SendRaw(Frame(command, 2, (uint)payload.Length, payload.ToArray()));
        var h = ReadExactly(12);
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32BigEndian(h.AsSpan(4)));
        return (BinaryPrimitives.ReadUInt32BigEndian(h), ReadExactly((int)BinaryPrimitives.ReadUInt32BigEndian(h.AsSpan(8))));
    }

    public void SendRaw(byte[] bytes) => socket.Send(bytes);

    public void SendRawAndClose(byte[] bytes)
    {
        socket.Send(bytes);
        socket.Shutdown(SocketShutdown.Send);
    }

    public bool PeerClosed() => socket.Receive(new byte[1]) == 0;

    private byte[] ReadExactly(int n)
    {
        var b = new byte[n];
        for (int got = 0; got < n;)
        {
            int r = socket.Receive(b, got, n - got, SocketFlags.None);
            Assert.True(r > 0, "the server closed the connection");
            got += r;
        }
        return b;
    }

    public void Dispose() => socket.Dispose();
}

/// <summary>A writer that signals when a line starting with a prefix is written.</summary>
internal sealed class SignalWriter(string prefix) : StringWriter
{
    public ManualResetEventSlim Seen { get; } = new();
    public string? Line { get; private set; }

    public override void WriteLine(string? value)
    {
        lock (this) base.WriteLine(value);
        if (value is not null && value.StartsWith(prefix, StringComparison.Ordinal) && Line is null)
        {
            Line = value;
            Seen.Set();
        }
    }
}

/// <summary>Bounded waits for the socket tests, and frame building.</summary>
internal static class Timing
{
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);
}
