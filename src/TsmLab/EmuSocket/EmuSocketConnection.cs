using System.Net.Sockets;

namespace TsmLab.EmuSocket;

/// <summary>What one receive on an emulator-socket connection gave.</summary>
public enum EmuReceiveStatus
{
    /// <summary>A whole frame: <see cref="EmuSocketConnection.Header"/> and <see cref="EmuSocketConnection.Payload"/> hold it.</summary>
    Frame,
    /// <summary>The peer closed the connection between frames.</summary>
    Closed,
    /// <summary>The peer closed or stalled in the middle of a frame, or did not begin a reply within the reply timeout.</summary>
    Truncated,
    /// <summary>The header announced a payload above the limit (nothing of it was read or allocated).</summary>
    TooLarge,
    /// <summary>The header's transport type is not the one this end speaks.</summary>
    WrongTransport,
    /// <summary>The socket failed (reset, timeout); <see cref="EmuSocketConnection.Problem"/> says how.</summary>
    Failed,
}

/// <summary>
/// One TCP connection speaking the emulator socket protocol [E5], either end. Frames are read whole
/// (12 header bytes, then payload_size bytes; usually one receive call brings both) into a buffer
/// allocated once per connection, and the announced size is checked against the limit before
/// more is awaited, so a peer never makes this end allocate what it claims. Each frame is written with one send of header and payload together,
/// and TCP_NODELAY is set, so a round trip costs little more than the loopback's. A peer that stops
/// in the middle of a frame for longer than the stall timeout ends the connection (Truncated).
/// Not thread-safe: one connection is served by one thread.
/// </summary>
public sealed class EmuSocketConnection : IDisposable
{
    private readonly Socket socket;
    private readonly byte[] receiveBuffer;
    private readonly byte[] sendBuffer;
    private readonly uint transport;
    // receiveBuffer[0..filled) holds received bytes; the current frame is [0..frameLength), any bytes
    // after it belong to the next frame (a peer may send several frames back to back).
    private int filled, frameLength;

    /// <summary>Wraps a connected socket speaking <paramref name="transport"/>, with payloads up to <paramref name="maxPayload"/>.</summary>
    public EmuSocketConnection(Socket socket, uint transport = EmuSocketProtocol.TransportPciDoe, int maxPayload = EmuSocketProtocol.MaxPayload)
    {
        this.socket = socket;
        this.transport = transport;
        socket.NoDelay = true;
        receiveBuffer = new byte[EmuSocketHeader.Size + maxPayload];
        sendBuffer = new byte[EmuSocketHeader.Size + maxPayload];
        MaxPayload = maxPayload;
    }

    /// <summary>The largest payload this end sends or accepts.</summary>
    public int MaxPayload { get; }

    /// <summary>How long a peer may pause in the middle of a frame (default 10 s).</summary>
    public TimeSpan StallTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long the first byte of a frame may take; null (the default, a server waiting for its
    /// client's next command): as long as the peer likes. A client waiting for a reply sets it.
    /// </summary>
    public TimeSpan? ReplyTimeout { get; init; }

    /// <summary>The last frame's header (valid after <see cref="EmuReceiveStatus.Frame"/>, and after TooLarge / WrongTransport).</summary>
    public EmuSocketHeader Header { get; private set; }

    /// <summary>The last frame's payload (valid until the next receive).</summary>
    public ReadOnlySpan<byte> Payload => frameLength == 0 ? [] : receiveBuffer.AsSpan(EmuSocketHeader.Size, frameLength - EmuSocketHeader.Size);

    /// <summary>What went wrong, for the one-line message of a failed receive or send.</summary>
    public string Problem { get; private set; } = "";

    /// <summary>
    /// Receives one frame. Waits for the first byte as long as the peer likes (or the reply
    /// timeout, when set); a frame once begun must finish within the stall timeout. Usually one receive call brings the whole frame.
    /// </summary>
    public EmuReceiveStatus Receive()
    {
        // Drop the previous frame, keep what followed it.
        if (frameLength > 0)
        {
            receiveBuffer.AsSpan(frameLength, filled - frameLength).CopyTo(receiveBuffer);
            filled -= frameLength;
            frameLength = 0;
        }
        var s = Fill(EmuSocketHeader.Size, headerBytes: true);
        if (s != EmuReceiveStatus.Frame) return s;
        Header = EmuSocketHeader.Read(receiveBuffer);
        if (Header.Transport != transport)
        {
            Problem = $"transport type {EmuSocketProtocol.TransportName(Header.Transport)} ({Header.Transport}); this end speaks {EmuSocketProtocol.TransportName(transport)} ({transport})";
            return EmuReceiveStatus.WrongTransport;
        }
        if (Header.PayloadSize > (uint)MaxPayload)
        {
            Problem = $"payload of {Header.PayloadSize} bytes announced; the limit is {MaxPayload}";
            return EmuReceiveStatus.TooLarge;
        }
        int total = EmuSocketHeader.Size + (int)Header.PayloadSize;
        s = Fill(total, headerBytes: false);
        if (s != EmuReceiveStatus.Frame) return s;
        frameLength = total;
        return EmuReceiveStatus.Frame;
    }

    /// <summary>Sends one frame with one send; false (with <see cref="Problem"/>) when the peer is gone.</summary>
    public bool Send(uint command, ReadOnlySpan<byte> payload)
    {
        if (payload.Length > MaxPayload) throw new ArgumentOutOfRangeException(nameof(payload), "payload above the connection's limit");
        new EmuSocketHeader(command, transport, (uint)payload.Length).Write(sendBuffer);
        payload.CopyTo(sendBuffer.AsSpan(EmuSocketHeader.Size));
        int total = EmuSocketHeader.Size + payload.Length, sent = 0;
        try
        {
            while (sent < total) sent += socket.Send(sendBuffer, sent, total - sent, SocketFlags.None);
            return true;
        }
        catch (SocketException e)
        {
            Problem = $"send failed: {e.SocketErrorCode}";
            return false;
        }
        catch (ObjectDisposedException)
        {
            Problem = "send failed: connection closed";
            return false;
        }
    }

    /// <summary>Receives until at least <paramref name="needed"/> bytes are buffered.</summary>
    private EmuReceiveStatus Fill(int needed, bool headerBytes)
    {
        try
        {
            while (filled < needed)
            {
                // A frame already begun must finish within the stall timeout; its first byte within the reply timeout, if any.
                if (filled > 0 && socket.Available == 0 && !socket.Poll(StallTimeout, SelectMode.SelectRead))
                {
                    Problem = $"the peer stopped in the middle of a frame for {StallTimeout.TotalSeconds:0.#} s";
                    return EmuReceiveStatus.Truncated;
                }
                if (filled == 0 && ReplyTimeout is { } wait && socket.Available == 0 && !socket.Poll(wait, SelectMode.SelectRead))
                {
                    Problem = $"no reply within {wait.TotalSeconds:0.#} s";
                    return EmuReceiveStatus.Truncated;
                }
                int n = socket.Receive(receiveBuffer, filled, receiveBuffer.Length - filled, SocketFlags.None);
                if (n == 0)
                {
                    if (filled == 0) return EmuReceiveStatus.Closed;
                    Problem = headerBytes
                        ? $"connection closed after {filled} of {EmuSocketHeader.Size} header bytes"
                        : $"connection closed after {filled - EmuSocketHeader.Size} of {needed - EmuSocketHeader.Size} payload bytes";
                    return EmuReceiveStatus.Truncated;
                }
                filled += n;
            }
            return EmuReceiveStatus.Frame;
        }
        catch (SocketException e)
        {
            Problem = $"receive failed: {e.SocketErrorCode}";
            return EmuReceiveStatus.Failed;
        }
        catch (ObjectDisposedException)
        {
            Problem = "receive failed: connection closed";
            return EmuReceiveStatus.Failed;
        }
    }

    public void Dispose() => socket.Dispose();
}
