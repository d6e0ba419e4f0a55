using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using TsmLab.EmuSocket;

namespace TsmLab.Tests.EmuSocket;

/// <summary>A DSM's DOE mailbox on the far side of the emulator socket protocol: against TsmLab's own server and against misbehaving responders.</summary>
public sealed class SocketDoeMailboxTests
{
    private static readonly byte[] GetVersion = [0x01, 0x00, 0x01, 0x00, 0x03, 0x00, 0x00, 0x00, 0x10, 0x84, 0x00, 0x00];

    [Fact]
    public void Exchange_IsOneNormalRoundTrip_AndDisposeShutsTheResponderDown()
    {
        using var s = Server.Start();
        var mailbox = SocketDoeMailbox.Connect("127.0.0.1", s.Port, out string problem);
        Assert.True(mailbox is not null, problem);
        var response = new byte[mailbox.MaxResponseSize];
        int n = mailbox.Exchange(GetVersion, response);
        Assert.True(n >= 12);
        Assert.Equal(1, response[2]); // an SPDM object answers an SPDM object
        Assert.Equal(n / 4, (int)BinaryPrimitives.ReadUInt32LittleEndian(response.AsSpan(4)));
        mailbox.Dispose();
        Assert.Equal(0, s.Exit());
    }

    [Fact]
    public void LeaveRunning_EndsWithContinue_AndTheResponderServesTheNextClient()
    {
        using var s = Server.Start();
        using (var m = SocketDoeMailbox.Connect("127.0.0.1", s.Port, out _)!) { }
        // The default is SHUTDOWN: that one already ended the server.
        Assert.Equal(0, s.Exit());
        using var s2 = Server.Start();
        using (var m2 = SocketDoeMailbox.Connect("127.0.0.1", s2.Port, out string p2, leaveRunning: true)) Assert.True(m2 is not null, p2);
        using (var m3 = SocketDoeMailbox.Connect("localhost", s2.Port, out string p3)) Assert.True(m3 is not null, p3);
        Assert.Equal(0, s2.Exit());
        Assert.Equal(1, s2.DevicesCreated);
    }

    [Fact]
    public void Connect_ToNobody_IsNullWithAReason()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        Assert.Null(SocketDoeMailbox.Connect("127.0.0.1", port, out string problem));
        Assert.Contains($"cannot connect to 127.0.0.1:{port}", problem);
    }

    public static TheoryData<string, byte[], string> BadResponders => new()
    {
        { "closes", [], "the responder closed the connection" },
        { "answers UNKNOWN", Client.Frame(EmuSocketProtocol.Unknown, 2, 0, []), "the responder answered UNKNOWN to NORMAL" },
        { "answers MCTP", Client.Frame(EmuSocketProtocol.Normal, 1, 0, []), "transport type MCTP (1)" },
        { "half a DOE object", Client.Frame(EmuSocketProtocol.Normal, 2, 8, [1, 0, 1, 0, 4, 0, 0, 0]), "not one DOE object (8 bytes)" },
        { "announces 2 GiB", Client.Frame(EmuSocketProtocol.Normal, 2, 0x8000_0000, []), "payload of 2147483648 bytes announced" },
    };

    [Theory]
    [MemberData(nameof(BadResponders))]
    public void AMisbehavingResponder_MakesTheExchangeAnswerNothing_WithAReason(string what, byte[] reply, string problem)
    {
        using var fake = new FakeResponder(reply);
        var m = SocketDoeMailbox.Connect("127.0.0.1", fake.Port, out string p);
        Assert.True(m is not null, p);
        Assert.True(m.Exchange(GetVersion, new byte[4096]) == 0, what);
        Assert.Contains(problem, m.Problem);
        Assert.Equal(0, m.Exchange(GetVersion, new byte[4096])); // unusable afterwards
        m.Dispose();
    }

    [Fact]
    public void AResponderThatStopsAnswering_EndsTheExchangeAtTheReplyTimeout_NotAHang()
    {
        using var fake = new FakeResponder([], silent: true);
        var m = SocketDoeMailbox.Connect("127.0.0.1", fake.Port, out string p, replyTimeout: TimeSpan.FromMilliseconds(300));
        Assert.True(m is not null, p);
        Assert.Equal(0, m.Exchange(GetVersion, new byte[4096]));
        Assert.Contains("no reply within 0.3 s", m.Problem);
        Assert.Equal(0, m.Exchange(GetVersion, new byte[4096])); // unusable afterwards
        m.Dispose();
    }

    /// <summary>Greets properly, then answers the first NORMAL with fixed bytes (or closes when they are empty, or, silent, says nothing until disposed).</summary>
    private sealed class FakeResponder : IDisposable
    {
        private readonly TcpListener listener = new(IPAddress.Loopback, 0);
        private readonly Thread thread;
        private readonly ManualResetEventSlim done = new();

        public FakeResponder(byte[] reply, bool silent = false)
        {
            listener.Start();
            Port = ((IPEndPoint)listener.LocalEndpoint).Port;
            thread = new Thread(() =>
            {
                using var s = listener.AcceptSocket();
                var buf = new byte[4096];
                Read(s, buf, 12 + 14);
                s.Send(Client.Frame(EmuSocketProtocol.Test, 2, 14, EmuSocketProtocol.ServerHello.ToArray()));
                Read(s, buf, 12 + GetVersion.Length);
                if (silent) done.Wait(Timing.Bound);
                if (reply.Length > 0) s.Send(reply);
                s.Shutdown(SocketShutdown.Both);
            }) { IsBackground = true };
            thread.Start();
        }

        public int Port { get; }

        private static void Read(Socket s, byte[] buf, int n)
        {
            for (int got = 0; got < n;) got += s.Receive(buf, got, n - got, SocketFlags.None);
        }

        public void Dispose()
        {
            done.Set();
            thread.Join(Timing.Bound);
            listener.Stop();
        }
    }
}
