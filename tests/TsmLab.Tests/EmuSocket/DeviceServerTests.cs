using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using TsmLab.EmuSocket;
using TsmLab.Kernel.Pci;
using TsmLab.Tdisp.Device;
using TsmLab.Tests.Cli;
using TsmLab.Tracing;

namespace TsmLab.Tests.EmuSocket;

/// <summary>
/// <c>tsmlab device serve</c> over real loopback sockets (ephemeral ports, bounded waits): the
/// emulator socket protocol's framing and lifecycle [E5], and hostile clients.
/// </summary>
public sealed class DeviceServerTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    [Fact]
    public void Header_IsTwelveBigEndianBytes()
    {
        var bytes = new byte[12];
        new EmuSocketHeader(EmuSocketProtocol.Test, EmuSocketProtocol.TransportPciDoe, 14).Write(bytes);
        Assert.Equal("0000dead000000020000000e", Convert.ToHexStringLower(bytes));
        Assert.Equal(new EmuSocketHeader(0xDEAD, 2, 14), EmuSocketHeader.Read(bytes));
    }

    [Fact]
    public void Test_IsAnsweredWithTheServerGreeting_AndShutdownEndsTheServerWithZero()
    {
        using var s = Server.Start();
        using var c = s.Connect();
        AssertFrame(EmuSocketProtocol.Test, "Server Hello!\0"u8.ToArray(), c.Exchange(EmuSocketProtocol.Test, EmuSocketProtocol.ClientHello));
        AssertFrame(EmuSocketProtocol.Shutdown, Array.Empty<byte>(), c.Exchange(EmuSocketProtocol.Shutdown, []));
        Assert.Equal(0, s.Exit());
        Assert.Equal(1, s.DevicesCreated);
    }

    [Fact]
    public void Normal_CarriesOneDoeObjectEachWay_AndAnUnansweredObjectGetsAnEmptyReply()
    {
        using var s = Server.Start();
        using var c = s.Connect();
        // A plain SPDM object (type 1): the device answers with one DOE object of type 1.
        var (cmd, reply) = c.Exchange(EmuSocketProtocol.Normal, Doe(1, [0x10, 0x84, 0, 0]));
        Assert.Equal(EmuSocketProtocol.Normal, cmd);
        Assert.True(reply.Length >= 12 && reply.Length % 4 == 0);
        Assert.Equal(0x0001, BinaryPrimitives.ReadUInt16LittleEndian(reply));
        Assert.Equal(1, reply[2]);
        Assert.Equal(reply.Length / 4, (int)BinaryPrimitives.ReadUInt32LittleEndian(reply.AsSpan(4)));
        // A vendor other than PCI-SIG: a real mailbox discards it; the socket still answers, empty.
        var other = Doe(1, [0x10, 0x84, 0, 0]);
        other[0] = 0x34;
        AssertFrame(EmuSocketProtocol.Normal, Array.Empty<byte>(), c.Exchange(EmuSocketProtocol.Normal, other));
        AssertFrame(EmuSocketProtocol.Normal, Array.Empty<byte>(), c.Exchange(EmuSocketProtocol.Normal, []));
        c.Exchange(EmuSocketProtocol.Shutdown, []);
        Assert.Equal(0, s.Exit());
    }

    [Fact]
    public void Continue_KeepsTheDevice_ForTheNextConnection()
    {
        using var s = Server.Start();
        using (var c = s.Connect())
            Assert.Equal(EmuSocketProtocol.Continue, c.Exchange(EmuSocketProtocol.Continue, []).Command);
        using (var c = s.Connect())
        {
            Assert.Equal(EmuSocketProtocol.Test, c.Exchange(EmuSocketProtocol.Test, EmuSocketProtocol.ClientHello).Command);
            c.Exchange(EmuSocketProtocol.Shutdown, []);
        }
        Assert.Equal(0, s.Exit());
        Assert.Equal(1, s.DevicesCreated);
    }

    [Theory]
    [InlineData(0xBEEFu)]
    [InlineData(EmuSocketProtocol.OobEncapKeyUpdate)]
    [InlineData(EmuSocketProtocol.Unknown)]
    public void AnUnknownOrUnservedCommand_IsAnswered0xFFFF_ClosedAndTheServerKeepsListening(uint command)
    {
        using var s = Server.Start();
        using (var c = s.Connect())
        {
            AssertFrame(EmuSocketProtocol.Unknown, Array.Empty<byte>(), c.Exchange(command, []));
            Assert.True(c.PeerClosed());
        }
        using (var c = s.Connect())
            c.Exchange(EmuSocketProtocol.Shutdown, []);
        Assert.Equal(0, s.Exit());
        Assert.Equal(1, s.DevicesCreated);
        Assert.Contains("is not served; answered 0xFFFF and closed", s.Error);
    }

    [Fact]
    public void AClientThatLeavesWithoutShutdown_EndsTheServerWithZero_OrWithKeepServingGetsAFreshDeviceNext()
    {
        using (var s = Server.Start())
        {
            s.Connect().Dispose();
            Assert.Equal(0, s.Exit());
            Assert.Contains("closed the connection without SHUTDOWN", s.Error);
        }
        using (var s = Server.Start(keepServing: true))
        {
            s.Connect().Dispose();
            using (var c = s.Connect()) c.Exchange(EmuSocketProtocol.Shutdown, []);
            using (var c = s.Connect())
            {
                Assert.Equal(EmuSocketProtocol.Test, c.Exchange(EmuSocketProtocol.Test, EmuSocketProtocol.ClientHello).Command);
                Assert.Equal(3, s.DevicesCreated); // read while this connection is open: its close would make a fourth
            }
            s.Cancel();
            Assert.Equal(0, s.Exit());
        }
    }

    [Fact]
    public void Cancellation_WhileAClientIsConnectedAndIdle_EndsTheServerWithZero_WithoutAnErrorLine()
    {
        using var s = Server.Start();
        using var c = s.Connect();
        c.Exchange(EmuSocketProtocol.Test, EmuSocketProtocol.ClientHello);
        s.Cancel();
        Assert.Equal(0, s.Exit());
        Assert.Equal("", s.Error);
    }

    public static TheoryData<string, byte[], string> HostileClients => new()
    {
        { "MCTP transport", Header(EmuSocketProtocol.Normal, EmuSocketProtocol.TransportMctp, 4, [5, 0x10, 0x84, 0]), "transport type MCTP (1); this end speaks PCI_DOE (2)" },
        { "announced 4 GiB", Header(EmuSocketProtocol.Normal, 2, uint.MaxValue, []), "payload of 4294967295 bytes announced; the limit is 1048576" },
        { "truncated payload", Header(EmuSocketProtocol.Normal, 2, 100, [1, 2, 3]), "connection closed after 3 of 100 payload bytes" },
        { "truncated header", [0, 0, 0, 1, 0, 0], "connection closed after 6 of 12 header bytes" },
        { "garbage", "GET / HTTP/1.1\r\n\r\n"u8.ToArray(), "transport type" },
    };

    [Theory]
    [MemberData(nameof(HostileClients))]
    public void AProtocolError_EndsTheConnectionWithOneLine_AndTheServerWithOne(string what, byte[] bytes, string message)
    {
        using var s = Server.Start();
        using (var c = s.Connect()) c.SendRawAndClose(bytes);
        Assert.True(s.Exit() == 1, what);
        var line = Assert.Single(s.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("tsmlab device serve: client protocol error: ", line);
        Assert.Contains(message, line);
    }

    [Fact]
    public void AClientThatStallsInTheMiddleOfAFrame_IsCutOffAfterTheStallTimeout()
    {
        using var s = Server.Start(stall: TimeSpan.FromMilliseconds(200));
        using var c = s.Connect();
        c.SendRaw(Header(EmuSocketProtocol.Normal, 2, 16, [1, 0, 1, 0]));
        Assert.Equal(1, s.Exit());
        Assert.Contains("stopped in the middle of a frame", s.Error);
    }

    [Fact]
    public void Pcap_RecordsEveryDoeObjectBothWays_WithLinkType292()
    {
        var ms = new MemoryStream();
        using (var s = Server.Start(pcap: new PcapWriter(ms)))
        {
            using var c = s.Connect();
            c.Exchange(EmuSocketProtocol.Test, EmuSocketProtocol.ClientHello);
            c.Exchange(EmuSocketProtocol.Normal, Doe(1, [0x10, 0x84, 0, 0]));
            c.Exchange(EmuSocketProtocol.Shutdown, []);
            Assert.Equal(0, s.Exit());
        }
        var pcap = ms.ToArray();
        Assert.Equal(0xa1b2c3d4u, BinaryPrimitives.ReadUInt32LittleEndian(pcap));
        Assert.Equal(292u, BinaryPrimitives.ReadUInt32LittleEndian(pcap.AsSpan(20)));
        int off = 24, records = 0;
        while (off < pcap.Length)
        {
            uint captured = BinaryPrimitives.ReadUInt32LittleEndian(pcap.AsSpan(off + 8));
            Assert.Equal(0x0001, BinaryPrimitives.ReadUInt16LittleEndian(pcap.AsSpan(off + 16))); // starts at the DOE header
            off += 16 + (int)captured;
            records++;
        }
        Assert.Equal(2, records); // TEST and SHUTDOWN are not recorded
        Assert.Equal(pcap.Length, off);
    }

    [Theory]
    [InlineData(new[] { "--port", "70000" }, "invalid port '70000'")]
    [InlineData(new[] { "--port", "x" }, "invalid port 'x'")]
    [InlineData(new[] { "--function-id", "0x10000" }, "invalid function id '0x10000'")]
    [InlineData(new[] { "--function-id", "0xFFFF" }, "leaves no room for the device's 4 VFs")]
    [InlineData(new[] { "--device", "/nonexistent/d.json" }, "tsmlab device serve: cannot read device file")]
    public void BadOptions_AreUsageErrors_WithOneLine(string[] args, string message)
    {
        var (rc, _, e) = CliRunner.Run("", ["device", "serve", .. args]);
        Assert.Equal(2, rc);
        Assert.StartsWith("tsmlab device serve: ", e); // the nested command is named as typed
        Assert.Contains(message, e);
        Assert.Single(e.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void TheCommand_PrintsItsListeningLine_ServesWithFunctionIdBeef_AndExitsZeroOnShutdown()
    {
        var output = new SignalWriter("listening on 127.0.0.1:");
        var error = new StringWriter();
        int rc = -1;
        var t = new Thread(() => rc = TsmLab.Cli.Program.Run(["device", "serve", "--port", "0", "--function-id", "0xBEEF"], TextReader.Null, output, error)) { IsBackground = true };
        t.Start();
        Assert.True(output.Seen.Wait(Bound), "no listening line");
        int port = int.Parse(output.Line!.Split(':')[^1].Trim(), System.Globalization.CultureInfo.InvariantCulture);
        using (var c = Client.Connect(port))
        {
            c.Exchange(EmuSocketProtocol.Test, EmuSocketProtocol.ClientHello);
            c.Exchange(EmuSocketProtocol.Shutdown, []);
        }
        Assert.True(t.Join(Bound));
        Assert.True(rc == 0, error.ToString());
    }

    // ---- plumbing ----

    private static void AssertFrame(uint command, byte[] payload, (uint Command, byte[] Payload) actual)
    {
        Assert.Equal(command, actual.Command);
        Assert.Equal(payload, actual.Payload);
    }

    private static byte[] Doe(byte type, byte[] body)
    {
        int padded = (body.Length + 3) & ~3;
        var o = new byte[8 + padded];
        BinaryPrimitives.WriteUInt16LittleEndian(o, 1);
        o[2] = type;
        BinaryPrimitives.WriteUInt32LittleEndian(o.AsSpan(4), (uint)(o.Length / 4));
        body.CopyTo(o, 8);
        return o;
    }

    private static byte[] Header(uint command, uint transport, uint size, byte[] payload)
    {
        var b = new byte[12 + payload.Length];
        new EmuSocketHeader(command, transport, size).Write(b);
        payload.CopyTo(b, 12);
        return b;
    }
}
