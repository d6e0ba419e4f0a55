using System.Buffers.Binary;
using TsmLab.Hardware;
using TsmLab.Kernel.Pci;
using TsmLab.Tests.Cli;
using TsmLab.Tracing;

namespace TsmLab.Tests.Tracing;

/// <summary>The host's DOE relay: every object traced on the kernel's lane and captured as pcap (LINKTYPE_PCI_DOE), connects included.</summary>
public sealed class DoeCaptureTests
{
    [Fact]
    public void HostRelay_TracesDirectionTypeLength_AndTheSessionIdOfASecuredObject_WithoutDecodingIt()
    {
        var echo = new EchoMailbox();
        var machine = new Machine("m", new PhysicalMemory(0x1_0000_0000), null, []);
        var log = new TraceLog();
        machine.Trace = log;
        var relay = new HostDoeRelay(echo, machine, new PciAddress(0, 1, 0, 0));
        var secured = new byte[24];
        BinaryPrimitives.WriteUInt16LittleEndian(secured, 1);
        secured[2] = 2;
        BinaryPrimitives.WriteUInt32LittleEndian(secured.AsSpan(4), 6);
        BinaryPrimitives.WriteUInt32LittleEndian(secured.AsSpan(8), 0xFFFEFFFF);
        Assert.Equal(24, relay.Exchange(secured, new byte[64]));
        var events = log.Events;
        Assert.Equal(2, events.Count);
        Assert.All(events, e => Assert.Equal("DOE object", e.Name));
        Assert.Equal(TraceLayer.Kernel, events[0].From);
        Assert.Equal(TraceLayer.Device, events[0].To);
        Assert.Equal(TraceLayer.Device, events[1].From);
        var f = events[0].Fields.ToDictionary(x => x.Name, x => x.Value);
        Assert.Equal("to-device", f["direction"]);
        Assert.Equal("secured-spdm", f["type"]);
        Assert.Equal("24", f["length"]);
        Assert.Equal("0xfffeffff", f["session_id"]);
        Assert.Equal("0000:01:00.0", f["function"]);
    }

    [Fact]
    public void HostRelay_WithoutTraceOrCapture_OnlyPassesBytes()
    {
        var machine = new Machine("m", new PhysicalMemory(0x1_0000_0000), null, []);
        var relay = new HostDoeRelay(new EchoMailbox(), machine, new PciAddress(0, 1, 0, 0));
        Assert.Equal(12, relay.Exchange(new byte[12], new byte[64]));
    }

    [Fact]
    public void DemoPcap_HasEveryRelayedObjectOfEveryPlatform_ConnectsIncluded()
    {
        string path = Path.Combine(Path.GetTempPath(), $"tsmlab-demo-{Environment.ProcessId}.pcap");
        try
        {
            var (rc, _, e) = CliRunner.Run("", "demo", "--pcap", path, "--json");
            Assert.True(rc == 0, e);
            var records = Records(File.ReadAllBytes(path));
            Assert.True(records.Count > 50);
            Assert.All(records, r => Assert.Equal(0x0001, BinaryPrimitives.ReadUInt16LittleEndian(r)));
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void ReplayPcap_StartsAtTheBootConnect_AndTheTraceShowsTheSameObjects()
    {
        string dir = Directory.CreateTempSubdirectory("tsmlab-pcap-").FullName;
        try
        {
            string pcap = Path.Combine(dir, "r.pcap"), trace = Path.Combine(dir, "r.jsonl");
            var (rc, _, e) = CliRunner.Run("", "replay", Path.Combine(CliRunner.RepoRoot(), "examples", "cca-assign.jsonl"), "--host", "cca", "--pcap", pcap, "--trace", trace);
            Assert.True(rc == 0, e);
            var records = Records(File.ReadAllBytes(pcap));
            int traced = File.ReadLines(trace).Count(l => l.Contains("\"name\":\"DOE object\"", StringComparison.Ordinal));
            Assert.Equal(records.Count, traced);
            Assert.True(records.Count > 10);
            // The trace starts with the boot's PDEV creation, before any VMM call.
            Assert.Contains("RMI_PDEV_CREATE", File.ReadLines(trace).First());
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Pcap_ToADirectory_IsAUsageError()
    {
        var (rc, _, e) = CliRunner.Run("", "demo", "--pcap", Path.GetTempPath());
        Assert.Equal(2, rc);
        Assert.Contains("cannot write pcap file", e);
    }

    private static List<byte[]> Records(byte[] pcap)
    {
        Assert.Equal(0xa1b2c3d4u, BinaryPrimitives.ReadUInt32LittleEndian(pcap));
        Assert.Equal(292u, BinaryPrimitives.ReadUInt32LittleEndian(pcap.AsSpan(20)));
        var list = new List<byte[]>();
        for (int off = 24; off < pcap.Length;)
        {
            int len = (int)BinaryPrimitives.ReadUInt32LittleEndian(pcap.AsSpan(off + 8));
            Assert.True(BinaryPrimitives.ReadUInt32LittleEndian(pcap.AsSpan(off)) > 1_700_000_000); // real timestamps
            list.Add(pcap.AsSpan(off + 16, len).ToArray());
            off += 16 + len;
        }
        return list;
    }

    private sealed class EchoMailbox : IDoeMailbox
    {
        public int MaxResponseSize => 64;

        public int Exchange(ReadOnlySpan<byte> requestObject, Span<byte> responseObject)
        {
            requestObject.CopyTo(responseObject);
            return requestObject.Length;
        }
    }
}
