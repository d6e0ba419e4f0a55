using System.Buffers.Binary;
using TsmLab.Abi;
using TsmLab.Hosts;
using TsmLab.Kernel;
using TsmLab.Platforms;
using TsmLab.Tdisp.Device;
using TsmLab.Tdisp.Wire;
using TsmLab.Tests.Cli;
using TsmLab.Tracing;

namespace TsmLab.Tests.Platforms;

/// <summary>
/// Every platform's firmware (the RMM through RMI_PDEV/VDEV_COMMUNICATE, the PSP through its SPDM
/// request loop, the TDX module through TDX_SPDM_REQUEST) authenticates the device over SPDM and runs
/// IDE_KM and TDISP only inside the secured session the host relays.
/// </summary>
public sealed class PlatformSpdmTests
{
    public static TheoryData<string> Platforms => ["cca", "sev", "tdx"];

    private static readonly IdeKeyDirection[] Directions = [IdeKeyDirection.Receive, IdeKeyDirection.Transmit];
    private static readonly IdeSubStream[] SubStreams = [IdeSubStream.PostedRequest, IdeSubStream.NonPostedRequest, IdeSubStream.Completion];

    /// <summary>The SPDM codes the handshake may carry in the clear: VERSION, CAPABILITIES, ALGORITHMS, DIGESTS, CERTIFICATE, MEASUREMENTS, KEY_EXCHANGE (requests and responses).</summary>
    private static readonly byte[] HandshakeCodes = [0x84, 0x04, 0xE1, 0x61, 0xE3, 0x63, 0x81, 0x01, 0x82, 0x02, 0xE0, 0x60, 0xE4, 0x64];

    [Theory]
    [MemberData(nameof(Platforms))]
    public void DemoPcap_CarriesIdeKmAndTdispOnlyInSecuredObjects_AndOnlyTheHandshakeInTheClear(string platform)
    {
        string path = Path.Combine(Path.GetTempPath(), $"tsmlab-{platform}-{Environment.ProcessId}.pcap");
        try
        {
            var (rc, _, e) = CliRunner.Run("", "demo", "--platform", platform, "--pcap", path, "--json");
            Assert.True(rc == 0, e);
            var objects = Records(File.ReadAllBytes(path));
            int firstSecured = objects.FindIndex(o => o[2] == 2);
            Assert.True(firstSecured > 0, "no secured object");
            // Before the session: plain SPDM of the handshake only, never VENDOR_DEFINED (0xFE/0x7E).
            Assert.All(objects.Take(firstSecured), o => Assert.True(o[2] == 1 && o[9] is not 0xFE and not 0x7E, $"clear object code 0x{o[9]:x2}"));
            Assert.All(objects.Take(firstSecured), o => Assert.Contains(o[9], HandshakeCodes));
            // Afterwards nothing in the clear: IDE_KM, TDISP, measurement refreshes, END_SESSION are all secured.
            Assert.All(objects.Skip(firstSecured), o => Assert.Equal(2, o[2]));
        }
        finally { File.Delete(path); }
    }

    [Theory]
    [MemberData(nameof(Platforms))]
    public void Connect_WithAWrongProvisionedRoot_IsRefused_AndNoIdeKeyIsProgrammed(string platform)
    {
        var other = new DeviceIdentity(DeviceConfiguration.Default with { Identity = DeviceConfiguration.Default.Identity with { Seed = "not this device" } }).RootCertificate;
        var config = BuiltInHosts.Find(platform)!;
        var device = config.Devices.OfType<TdispPciDevice>().Single();
        config = config with
        {
            Functions = [.. config.Functions.Select(f => f.Address == device.Functions[0].Address ? f with { SpdmRoot = other } : f)],
            Connects = [],
        };
        var log = new TraceLog();
        var k = HostKernel.Boot(config, kernel => kernel.Trace = log);
        Assert.True(k.Tsm.Connect(k.Functions[0], "tsm0") < 0);
        var failure = Assert.Single(log.Events, e => e.Name == "SPDM authentication");
        Assert.Contains("root", failure.Fields.Single(f => f.Name == "reason").Value);
        Assert.Null(k.Functions[0].ConnectedTsm);
        // The reason is kept for `tsmlab info` (text and JSON): the chain's own for the RMM and the TDX
        // module (the host checks it), the PSP's status for SEV (its trace has the rest).
        Assert.Contains(platform == "sev" ? "DEV_CONNECT" : "root", k.Functions[0].ConnectFailure);
        Assert.Contains("connect_failure", TsmLab.Presentation.HostReport.Json(k));
        Assert.Contains("connect failed: tsm0", TsmLab.Presentation.HostReport.Tree(k));
        foreach (byte stream in device.Dsm.IdeKeys.StreamIds)
            foreach (var dir in Directions)
                foreach (var ss in SubStreams)
                    Assert.False(device.Dsm.IdeKeys.IsProgrammed(stream, dir, ss, 0));
    }

    [Theory]
    [MemberData(nameof(Platforms))]
    public void RelayedObjects_CarryNoIdeKeyMaterial_AndNothingAfterTheHandshakeInTheClear(string platform)
    {
        using var capture = new MemoryStream();
        var s = PlatformRegistry.Find(platform)!.Start(TsmAbiProfile.OpArch, new TraceLog { DoeCapture = new PcapWriter(capture) });
        Assert.True(s.Prepared);
        Assert.True(s.Guest.Lock().Ok);
        Assert.True(s.Guest.Accept().Ok);
        var objects = Records(capture.ToArray());
        var device = s.Kernel.Configuration.Devices.OfType<TdispPciDevice>().Single().Dsm;
        int keys = 0;
        foreach (var dir in Directions)
            foreach (var ss in SubStreams)
            {
                if (!device.IdeKeys.IsProgrammed(0, dir, ss, 0)) continue;
                var material = device.IdeKeys.GetKeyMaterial(0, IdeKeySubStream.Create(0, dir, ss)).ToArray();
                keys++;
                // 16-byte windows of the key and the IFV: none may appear in a relayed object.
                for (int at = 0; at + 16 <= material.Length; at += 8)
                    Assert.All(objects, o => Assert.True(o.AsSpan().IndexOf(material.AsSpan(at, 16)) < 0, "IDE key material in a relayed DOE object"));
            }
        Assert.Equal(6, keys);
        int firstSecured = objects.FindIndex(o => o[2] == 2);
        Assert.True(firstSecured > 0);
        Assert.All(objects.Skip(firstSecured), o => Assert.Equal(2, o[2]));
    }

    /// <summary>The DOE objects of a LINKTYPE_PCI_DOE capture, one per record.</summary>
    private static List<byte[]> Records(byte[] pcap)
    {
        var list = new List<byte[]>();
        for (int off = 24; off < pcap.Length;)
        {
            int len = (int)BinaryPrimitives.ReadUInt32LittleEndian(pcap.AsSpan(off + 8));
            list.Add(pcap.AsSpan(off + 16, len).ToArray());
            off += 16 + len;
        }
        return list;
    }
}
