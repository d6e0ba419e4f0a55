using System.Buffers.Binary;
using System.Security.Cryptography.X509Certificates;
using TsmLab.Hosts;
using TsmLab.Kernel;
using TsmLab.Tdisp.Device;
using TsmLab.Tests.Cli;

namespace TsmLab.Tests.Platforms.Cca;

/// <summary>The RMM authenticates the device over SPDM through RMI_PDEV_COMMUNICATE and runs IDE_KM and TDISP only inside the secured session the host relays.</summary>
public sealed class CcaSpdmTests
{
    [Fact]
    public void DemoPcap_CcaCarriesIdeKmAndTdispOnlyInSecuredObjects_AndOnlyTheHandshakeInTheClear()
    {
        string path = Path.Combine(Path.GetTempPath(), $"tsmlab-cca-{Environment.ProcessId}.pcap");
        try
        {
            var (rc, _, e) = CliRunner.Run("", "demo", "--platform", "cca", "--pcap", path, "--json");
            Assert.True(rc == 0, e);
            var objects = Records(File.ReadAllBytes(path));
            int firstSecured = objects.FindIndex(o => o[2] == 2);
            Assert.True(firstSecured > 0, "no secured object");
            // Before the session: discovery-free plain SPDM of the handshake only, never VENDOR_DEFINED (0xFE/0x7E).
            Assert.All(objects.Take(firstSecured), o => Assert.True(o[2] == 1 && o[9] is not 0xFE and not 0x7E, $"clear object code 0x{o[9]:x2}"));
            // The handshake codes the spec allows in the clear: VERSION, CAPABILITIES, ALGORITHMS, DIGESTS, CERTIFICATE, MEASUREMENTS, KEY_EXCHANGE.
            Assert.All(objects.Take(firstSecured), o => Assert.Contains(o[9], new byte[] { 0x84, 0x04, 0xE1, 0x61, 0xE3, 0x63, 0x81, 0x01, 0x82, 0x02, 0xE0, 0x60, 0xE4, 0x64 }));
            // Afterwards nothing in the clear: IDE_KM, TDISP, the measurement refresh, END_SESSION are all secured.
            Assert.All(objects.Skip(firstSecured), o => Assert.Equal(2, o[2]));
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Connect_WithAWrongProvisionedRoot_IsRefused_AndNoIdeKeyIsProgrammed()
    {
        var other = new DeviceIdentity(DeviceConfiguration.Default with { Identity = DeviceConfiguration.Default.Identity with { Seed = "not this device" } }).RootCertificate;
        var config = BuiltInHosts.Find("cca")!;
        var device = config.Devices.OfType<TdispPciDevice>().Single();
        config = config with
        {
            Functions = [.. config.Functions.Select(f => f.Address == device.Functions[0].Address ? f with { SpdmRoot = other } : f)],
            Connects = [],
        };
        var log = new TsmLab.Tracing.TraceLog();
        var k = HostKernel.Boot(config, kernel => kernel.Trace = log);
        int rc = k.Tsm.Connect(k.Functions[0], "tsm0");
        Assert.True(rc < 0);
        var failure = Assert.Single(log.Events, e => e.Name == "SPDM authentication");
        Assert.Contains("root", failure.Fields.Single(f => f.Name == "reason").Value);
        Assert.Null(k.Functions[0].ConnectedTsm);
        // The reason is kept for `tsmlab info` (text and JSON).
        Assert.Contains("root", k.Functions[0].ConnectFailure);
        Assert.Contains("connect_failure", TsmLab.Presentation.HostReport.Json(k));
        Assert.Contains("connect failed: tsm0", TsmLab.Presentation.HostReport.Tree(k));
        foreach (byte stream in device.Dsm.IdeKeys.StreamIds)
            foreach (var dir in new[] { TsmLab.Tdisp.Wire.IdeKeyDirection.Receive, TsmLab.Tdisp.Wire.IdeKeyDirection.Transmit })
                foreach (var ss in new[] { TsmLab.Tdisp.Wire.IdeSubStream.PostedRequest, TsmLab.Tdisp.Wire.IdeSubStream.NonPostedRequest, TsmLab.Tdisp.Wire.IdeSubStream.Completion })
                    Assert.False(device.Dsm.IdeKeys.IsProgrammed(stream, dir, ss, 0));
    }

    [Fact]
    public void RelayedObjects_CarryNoIdeKeyMaterial_AndNothingAfterTheHandshakeInTheClear()
    {
        using var capture = new MemoryStream();
        var s = TsmLab.Platforms.Cca.CcaRealmSession.Start(onBoot: k => k.Machine.DoeCapture = new TsmLab.Tracing.PcapWriter(capture));
        Assert.True(s.Guest.Lock());
        Assert.True(s.Guest.Accept());
        var objects = Objects(capture);
        NoKeyMaterialIn(objects, s.Device);
        int firstSecured = objects.FindIndex(o => o[2] == 2);
        Assert.True(firstSecured > 0);
        Assert.All(objects.Skip(firstSecured), o => Assert.Equal(2, o[2]));
    }
    /// <summary>Every DOE object the host relayed, from a capture of the whole run.</summary>
    private static List<byte[]> Objects(MemoryStream capture) => Records(capture.ToArray());

    /// <summary>No IDE key or IFV the device holds appears in any DOE object the host relayed.</summary>
    private static void NoKeyMaterialIn(List<byte[]> objects, DeviceSecurityManager device)
    {
        int keys = 0;
        foreach (var dir in new[] { TsmLab.Tdisp.Wire.IdeKeyDirection.Receive, TsmLab.Tdisp.Wire.IdeKeyDirection.Transmit })
            foreach (var ss in new[] { TsmLab.Tdisp.Wire.IdeSubStream.PostedRequest, TsmLab.Tdisp.Wire.IdeSubStream.NonPostedRequest, TsmLab.Tdisp.Wire.IdeSubStream.Completion })
            {
                var slot = TsmLab.Tdisp.Wire.IdeKeySubStream.Create(0, dir, ss);
                if (!device.IdeKeys.IsProgrammed(0, dir, ss, 0)) continue;
                var material = device.IdeKeys.GetKeyMaterial(0, slot).ToArray();
                keys++;
                // 16-byte windows of the key and the IFV: none may appear in a relayed object.
                for (int at = 0; at + 16 <= material.Length; at += 8)
                    Assert.All(objects, o => Assert.True(o.AsSpan().IndexOf(material.AsSpan(at, 16)) < 0, "IDE key material in a relayed DOE object"));
            }
        Assert.Equal(6, keys);
    }

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
