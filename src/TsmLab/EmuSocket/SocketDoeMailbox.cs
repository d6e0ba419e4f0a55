using System.Net;
using System.Net.Sockets;
using TsmLab.Kernel.Pci;
using TsmLab.Tdisp.Wire;

namespace TsmLab.EmuSocket;

/// <summary>
/// A DSM's DOE mailbox that is another program: a responder speaking DMTF's emulator socket
/// protocol with the PCI DOE transport [E5] (DMTF's <c>spdm_responder_emu</c>, QEMU's SPDM socket,
/// <c>tsmlab device serve</c>). Each <see cref="Exchange"/> is one NORMAL round trip carrying one
/// DOE object each way; the connection greets with TEST first, and <see cref="Dispose"/> ends it
/// with SHUTDOWN (or CONTINUE, to leave the responder's state for the next client). A responder
/// that misbehaves — closes, answers another command, sends no DOE object or a malformed one —
/// makes the exchange answer nothing (0), as a DOE mailbox that timed out would, and
/// <see cref="Problem"/> says what happened; the connection is then unusable. Thread-safe: one lock
/// guards the connection, so exchanges never interleave on the wire.
/// </summary>
public sealed class SocketDoeMailbox : IDoeMailbox, IDisposable
{
    private readonly Lock gate = new();
    private readonly EmuSocketConnection connection;
    private bool broken;

    private SocketDoeMailbox(EmuSocketConnection connection) => this.connection = connection;

    /// <summary>What the last failed exchange met; empty while all is well.</summary>
    public string Problem { get; private set; } = "";

    /// <summary>Whether SHUTDOWN (false) or CONTINUE (true) ends the connection.</summary>
    public bool LeaveRunning { get; private init; }

    public int MaxResponseSize => connection.MaxPayload;

    /// <summary>How long a reply may take to begin (TsmLab definition: far above any SPDM CT a real responder declares).</summary>
    public static readonly TimeSpan DefaultReplyTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Connects to <paramref name="host"/>:<paramref name="port"/> and exchanges TEST greetings;
    /// null with <paramref name="problem"/> when the responder cannot be reached or does not greet.
    /// With <paramref name="leaveRunning"/> the connection ends with CONTINUE instead of SHUTDOWN.
    /// <paramref name="timeout"/> bounds the connect (default 10 s), <paramref name="replyTimeout"/>
    /// every wait for a reply (default 30 s: a responder that stops answering ends the exchange, never hangs it).
    /// </summary>
    public static SocketDoeMailbox? Connect(string host, int port, out string problem, bool leaveRunning = false, TimeSpan? timeout = null, TimeSpan? replyTimeout = null)
    {
        problem = "";
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            var addresses = IPAddress.TryParse(host, out var ip) ? [ip] : Dns.GetHostAddresses(host).Where(a => a.AddressFamily == AddressFamily.InterNetwork).ToArray();
            if (addresses.Length == 0) { problem = $"no IPv4 address for '{host}'"; socket.Dispose(); return null; }
            var connect = socket.ConnectAsync(addresses[0], port);
            if (!connect.Wait(timeout ?? TimeSpan.FromSeconds(10))) { problem = $"no answer from {host}:{port}"; socket.Dispose(); return null; }
        }
        catch (Exception e) when (e is SocketException or AggregateException)
        {
            var se = e as SocketException ?? (e as AggregateException)?.InnerException as SocketException;
            problem = $"cannot connect to {host}:{port}: {se?.SocketErrorCode.ToString() ?? e.Message}";
            socket.Dispose();
            return null;
        }
        var mailbox = new SocketDoeMailbox(new EmuSocketConnection(socket) { ReplyTimeout = replyTimeout ?? DefaultReplyTimeout }) { LeaveRunning = leaveRunning };
        if (!mailbox.RoundTrip(EmuSocketProtocol.Test, EmuSocketProtocol.ClientHello, out problem))
        {
            mailbox.connection.Dispose();
            return null;
        }
        return mailbox;
    }

    /// <summary>One DOE object to the responder, its one DOE object back; 0 when it answered none (see <see cref="Problem"/>).</summary>
    public int Exchange(ReadOnlySpan<byte> requestObject, Span<byte> responseObject)
    {
        lock (gate)
        {
            if (broken) return 0;
            if (!RoundTrip(EmuSocketProtocol.Normal, requestObject, out string problem)) { Fail(problem); return 0; }
            var reply = connection.Payload;
            if (reply.Length == 0) { Problem = "the responder answered no DOE object"; return 0; }
            if (!DoeHeader.TryRead(reply, out var h) || h.LengthBytes != reply.Length)
            {
                Fail($"the responder's reply is not one DOE object ({reply.Length} bytes)");
                return 0;
            }
            if (reply.Length > responseObject.Length)
            {
                Fail($"the responder's DOE object of {reply.Length} bytes exceeds the {responseObject.Length} bytes the caller can take");
                return 0;
            }
            reply.CopyTo(responseObject);
            return reply.Length;
        }
    }

    /// <summary>Sends one frame and receives its answer, which must be the same command.</summary>
    private bool RoundTrip(uint command, ReadOnlySpan<byte> payload, out string problem)
    {
        problem = "";
        if (payload.Length > connection.MaxPayload) { problem = $"request of {payload.Length} bytes above the protocol's limit"; return false; }
        if (!connection.Send(command, payload)) { problem = connection.Problem; return false; }
        var status = connection.Receive();
        if (status != EmuReceiveStatus.Frame)
        {
            problem = status == EmuReceiveStatus.Closed ? "the responder closed the connection" : connection.Problem;
            return false;
        }
        if (connection.Header.Command != command)
        {
            problem = $"the responder answered {EmuSocketProtocol.CommandName(connection.Header.Command)} to {EmuSocketProtocol.CommandName(command)}";
            return false;
        }
        return true;
    }

    private void Fail(string problem)
    {
        Problem = problem;
        broken = true;
    }

    /// <summary>Sends SHUTDOWN (or CONTINUE) and waits for its answer; false with the reason when it did not come. The connection is closed either way.</summary>
    public bool Shutdown(out string problem)
    {
        lock (gate)
        {
            problem = "";
            if (broken) { problem = Problem.Length > 0 ? $"connection unusable: {Problem}" : "connection already closed"; connection.Dispose(); return false; }
            uint end = LeaveRunning ? EmuSocketProtocol.Continue : EmuSocketProtocol.Shutdown;
            bool ok = RoundTrip(end, [], out problem);
            broken = true;
            connection.Dispose();
            return ok;
        }
    }

    /// <summary>Ends the session with SHUTDOWN or CONTINUE (best effort) and closes the socket.</summary>
    public void Dispose()
    {
        lock (gate)
        {
            if (!broken)
            {
                uint end = LeaveRunning ? EmuSocketProtocol.Continue : EmuSocketProtocol.Shutdown;
                if (connection.Send(end, [])) connection.Receive();
            }
            broken = true;
            connection.Dispose();
        }
    }
}
