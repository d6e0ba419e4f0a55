using System.Globalization;
using System.Net;
using System.Net.Sockets;
using TsmLab.Kernel.Pci;
using TsmLab.Tdisp.Wire;
using TsmLab.Tracing;

namespace TsmLab.EmuSocket;

/// <summary>How a connection ended, and so what the server does next.</summary>
public enum DeviceConnectionEnd
{
    /// <summary>SHUTDOWN answered: exit (or, keeping serving, a fresh device for the next client).</summary>
    Shutdown,
    /// <summary>CONTINUE answered: the next connection is served with the device's state kept.</summary>
    Continue,
    /// <summary>An unknown command answered 0xFFFF: closed, the next connection served with the state kept.</summary>
    UnknownCommand,
    /// <summary>The client closed between frames without SHUTDOWN.</summary>
    ClientClosed,
    /// <summary>The client broke the protocol (wrong transport, oversized, truncated frame, socket error).</summary>
    ProtocolError,
}

/// <summary>
/// <c>tsmlab device serve</c>: a modelled device's DOE mailbox (its first function that has one, the DSM) on DMTF's emulator socket protocol
/// with the PCI DOE transport [E5], so DMTF's requester emulator, its responder validator or QEMU
/// can talk to it as to <c>spdm_responder_emu --trans PCI_DOE</c>. TEST is answered with the server
/// greeting; NORMAL carries one DOE object each way (a DOE object the mailbox does not answer gets
/// an empty NORMAL reply, so the client is never left waiting: TsmLab definition); SHUTDOWN is
/// answered and ends the server; CONTINUE is answered and the next connection is served with the
/// device's state kept; OOB commands (encapsulated requests are not modelled) and unknown commands
/// are answered 0xFFFF and the connection closed, the state kept, as the emulator does. A client's
/// protocol error ends its connection with one line on the error writer. With keep-serving, a close
/// or SHUTDOWN gives the next client a fresh device. One client at a time, as the emulator.
/// </summary>
public sealed class DeviceServer
{
    private readonly Func<IPciEndpoint> createDevice;
    private readonly TextWriter output;
    private readonly TextWriter error;

    /// <summary>A server for devices <paramref name="createDevice"/> builds (one now, another for each fresh start).</summary>
    public DeviceServer(Func<IPciEndpoint> createDevice, TextWriter output, TextWriter error)
    {
        this.createDevice = createDevice;
        this.output = output;
        this.error = error;
    }

    /// <summary>The TCP port (0: an ephemeral one, printed when listening).</summary>
    public int Port { get; init; } = EmuSocketProtocol.DefaultPort;

    /// <summary>After a close or SHUTDOWN, accept the next client with a fresh device instead of exiting.</summary>
    public bool KeepServing { get; init; }

    /// <summary>Where every DOE object goes, both directions (null: nowhere).</summary>
    public PcapWriter? Pcap { get; init; }

    /// <summary>Called with each finished connection's trace (null: no trace is kept).</summary>
    public Action<TraceLog>? TraceSink { get; init; }

    /// <summary>How long a client may stall in the middle of a frame.</summary>
    public TimeSpan StallTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Listens on 127.0.0.1 and serves until SHUTDOWN (0), a client leaves without it (0), a
    /// client's protocol error (1) or cancellation (0); with keep-serving only cancellation ends it.
    /// Returns 2 with one line when the port cannot be bound.
    /// </summary>
    public int Run(CancellationToken cancel = default)
    {
        var listener = new TcpListener(IPAddress.Loopback, Port);
        try
        {
            listener.Start(1);
        }
        catch (SocketException e)
        {
            error.WriteLine($"tsmlab device serve: cannot listen on 127.0.0.1:{Port}: {e.SocketErrorCode}");
            return 2;
        }
        using var stop = cancel.Register(listener.Stop);
        try
        {
            output.WriteLine($"listening on 127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}");
            output.Flush();
            var device = createDevice();
            while (!cancel.IsCancellationRequested)
            {
                Socket client;
                try
                {
                    client = listener.AcceptSocket();
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException or InvalidOperationException)
                {
                    return 0; // stopped
                }
                var end = Serve(client, device, cancel);
                if (cancel.IsCancellationRequested) return 0;
                switch (end)
                {
                    case DeviceConnectionEnd.Continue or DeviceConnectionEnd.UnknownCommand:
                        continue;
                    case DeviceConnectionEnd.Shutdown or DeviceConnectionEnd.ClientClosed when !KeepServing:
                        return 0;
                    case DeviceConnectionEnd.ProtocolError when !KeepServing:
                        return 1;
                    default:
                        device = createDevice();
                        continue;
                }
            }
            return 0;
        }
        finally
        {
            listener.Stop();
            Pcap?.Flush();
        }
    }

    /// <summary>Serves one client until its connection ends (or <paramref name="cancel"/> closes it); never throws for anything the client does.</summary>
    public DeviceConnectionEnd Serve(Socket client, IPciEndpoint device, CancellationToken cancel = default)
    {
        var log = TraceSink is null ? null : new TraceLog();
        var mailbox = device.Functions.Select(f => f.Doe).FirstOrDefault(d => d is not null)
            ?? throw new ArgumentException("the device has no DOE mailbox", nameof(device));
        device.AttachTrace(log, Lane);
        var response = new byte[Math.Min(Math.Max(mailbox.MaxResponseSize, DoeHeader.Size), EmuSocketProtocol.MaxPayload)];
        using var conn = new EmuSocketConnection(client) { StallTimeout = StallTimeout };
        // Ctrl-C (or the caller's cancellation) ends a connection that is waiting for its client.
        using var stop = cancel.Register(conn.Dispose);
        try
        {
            while (true)
            {
                var status = conn.Receive();
                switch (status)
                {
                    case EmuReceiveStatus.Closed:
                        error.WriteLine("tsmlab device serve: the client closed the connection without SHUTDOWN");
                        return DeviceConnectionEnd.ClientClosed;
                    case EmuReceiveStatus.Frame:
                        break;
                    default:
                        if (cancel.IsCancellationRequested) return DeviceConnectionEnd.ClientClosed;
                        error.WriteLine($"tsmlab device serve: client protocol error: {conn.Problem}; connection closed");
                        return DeviceConnectionEnd.ProtocolError;
                }
                uint command = conn.Header.Command;
                bool sent;
                switch (command)
                {
                    case EmuSocketProtocol.Test:
                        sent = conn.Send(EmuSocketProtocol.Test, EmuSocketProtocol.ServerHello);
                        break;
                    case EmuSocketProtocol.Normal:
                        var request = conn.Payload;
                        Capture(log, request, toDevice: true);
                        int n = request.Length > 0 ? mailbox.Exchange(request, response) : 0;
                        if (n > 0) Capture(log, response.AsSpan(0, n), toDevice: false);
                        sent = conn.Send(EmuSocketProtocol.Normal, response.AsSpan(0, n));
                        break;
                    case EmuSocketProtocol.Shutdown:
                        conn.Send(EmuSocketProtocol.Shutdown, []);
                        return DeviceConnectionEnd.Shutdown;
                    case EmuSocketProtocol.Continue:
                        conn.Send(EmuSocketProtocol.Continue, []);
                        return DeviceConnectionEnd.Continue;
                    default:
                        conn.Send(EmuSocketProtocol.Unknown, []);
                        error.WriteLine($"tsmlab device serve: command {EmuSocketProtocol.CommandName(command)} is not served; answered 0xFFFF and closed");
                        return DeviceConnectionEnd.UnknownCommand;
                }
                if (!sent)
                {
                    error.WriteLine($"tsmlab device serve: {conn.Problem}; connection closed");
                    return DeviceConnectionEnd.ProtocolError;
                }
            }
        }
        finally
        {
            device.AttachTrace(null, Lane);
            Pcap?.Flush();
            if (log is not null) TraceSink!(log);
        }
    }

    /// <summary>The trace lane of the served device.</summary>
    private const string Lane = "device";

    private void Capture(TraceLog? log, ReadOnlySpan<byte> doeObject, bool toDevice)
    {
        Pcap?.Record(doeObject);
        if (log is null) return;
        string type = DoeHeader.TryRead(doeObject, out var h) ? ((byte)h.Type).ToString(CultureInfo.InvariantCulture) : "malformed";
        log.Record(toDevice ? TraceLayer.Firmware : TraceLayer.Device, toDevice ? TraceLayer.Device : TraceLayer.Firmware, TraceKind.DeviceMessage, "doe-object",
            doeObject.Length.ToString(CultureInfo.InvariantCulture), new TraceField("direction", toDevice ? "to-device" : "from-device"), new TraceField("type", type));
    }
}
