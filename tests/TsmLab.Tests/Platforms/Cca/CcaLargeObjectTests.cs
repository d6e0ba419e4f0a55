using TsmLab.Abi;
using TsmLab.Platforms.Cca;
using TsmLab.Platforms.Cca.Abi;
using TsmLab.Platforms.Cca.Vmm;
using TsmLab.Tdisp.Device;
using System.Buffers.Binary;
using System.Security.Cryptography.X509Certificates;

namespace TsmLab.Tests.Platforms.Cca;

/// <summary>
/// The MEASUREMENTS object a realm reads is the RMM's signed GET_MEASUREMENTS exchange with the device,
/// read back whole through READ_OBJECT; a record far above the device's DataTransferSize arrives by
/// CHUNK_GET inside the session (the device offers CHUNK_CAP when its record needs it).
/// </summary>
public class CcaLargeObjectTests
{
    [Fact]
    public void Measurements_AreTheSignedSpdmExchange_ReadBackWhole_AndVerifyAgainstTheVca()
    {
        const int valueBytes = 64;
        var device = TdispPciDevice.CreateDefault();
        var s = CcaRealmSession.Start(TsmAbiProfile.OpArch, CcaHost.Configuration(TsmAbiProfile.OpArch, device));
        var calls = s.Assignment.Calls;
        int fd = s.Assignment.IommuFd;
        uint vdev = s.Assignment.VdeviceId;
        Assert.Equal(0, calls.TsmOp(fd, vdev, IommuVdeviceTsmOp.TypeBind));
        var requests = new CcaTsmRequests(calls, fd, TsmAbiProfile.OpArch);
        var nonce = Enumerable.Range(0, 32).Select(i => (byte)(0xA0 + i)).ToArray();
        Assert.Equal(0, requests.Regenerate(vdev, CacheObject.Measurements, 1, calls.Scratch.Put(nonce)));
        Assert.Equal(0, requests.ObjectSize(vdev, CacheObject.Measurements, 0, out uint size));
        Assert.True(size > valueBytes, $"object of {size} B");

        // Read it whole through READ_OBJECT into a buffer in the VMM's memory and compare with the device's own transcript.
        const ulong hva = 0x7a00_0000_0000;
        Assert.Equal(0, s.Assignment.Calls.Process.Memory.Map(hva, (size + 4095ul) & ~4095ul, TsmLab.Kernel.Prot.ReadWrite));
        var got = ReadObject(s, vdev, hva, size);
        // GET_MEASUREMENTS with the realm's nonce, then the device's MEASUREMENTS: its record is the device's own, its signature verifies.
        Assert.Equal(0xE0, got[1]);
        Assert.Equal(nonce, got[4..36]);
        var record = device.Dsm.Identity.MeasurementRecord();
        Assert.True(got.AsSpan().IndexOf(record) > 0, "the device's measurement record is in the object");
        Assert.Equal(0, requests.ObjectSize(vdev, CacheObject.Vca, 0, out uint vcaSize));
        var vca = ReadObject(s, vdev, hva, vcaSize, CacheObject.Vca);
        using var key = device.Dsm.Identity.LeafCertificate.GetECDsaPublicKey()!;
        Assert.True(TsmLab.Spdm.Wire.SpdmMeasurementEvidence.Verify(vca, got, nonce, key));
    }

    [Fact]
    public void AOneMebibyteRecord_ArrivesByChunkGet_InsideTheSession_ReadBackWhole_AndVerifies()
    {
        // Seventeen raw blocks of 65000 B: a MEASUREMENTS response of about 1.05 MiB.
        var d = DeviceConfiguration.Default;
        var blocks = Enumerable.Range(1, 17).Select(i =>
        {
            var v = new byte[65000];
            new Random(i).NextBytes(v);
            return new MeasurementConfiguration((byte)i, 0x06, Raw: true, v);
        }).ToList();
        var device = new TdispPciDevice(d with { Identity = d.Identity with { Measurements = blocks } });
        var log = new TsmLab.Tracing.TraceLog();
        var s = CcaRealmSession.Start(TsmAbiProfile.OpArch, CcaHost.Configuration(TsmAbiProfile.OpArch, device), onBoot: k => k.Trace = log);
        var calls = s.Assignment.Calls;
        int fd = s.Assignment.IommuFd;
        uint vdev = s.Assignment.VdeviceId;
        Assert.Equal(0, calls.TsmOp(fd, vdev, IommuVdeviceTsmOp.TypeBind));
        var requests = new CcaTsmRequests(calls, fd, TsmAbiProfile.OpArch);
        var nonce = Enumerable.Range(0, 32).Select(i => (byte)(0x10 + i)).ToArray();
        int before = log.Events.Count;
        Assert.Equal(0, requests.Regenerate(vdev, CacheObject.Measurements, 1, calls.Scratch.Put(nonce)));
        // The device answered ERROR LargeResponse and then CHUNK_RESPONSEs, each in a secured DOE object.
        var exchange = log.Events.Skip(before).ToList();
        Assert.Contains(exchange, e => e.Name == "GET_MEASUREMENTS" && e.Result.Contains("LargeResponse", StringComparison.Ordinal));
        Assert.True(exchange.Count(e => e.Name == "CHUNK_GET" && e.Result == "CHUNK_RESPONSE") > 200);
        Assert.DoesNotContain(exchange, e => e.Name == "DOE object" && e.Fields.Any(f => f.Name == "type" && f.Value != "secured-spdm"));

        Assert.Equal(0, requests.ObjectSize(vdev, CacheObject.Measurements, 0, out uint size));
        Assert.True(size > 17 * 65000, $"object of {size} B");
        const ulong hva = 0x7a00_0000_0000;
        Assert.Equal(0, calls.Process.Memory.Map(hva, (size + 4095ul) & ~4095ul, TsmLab.Kernel.Prot.ReadWrite));
        var got = ReadObject(s, vdev, hva, size);
        Assert.Equal(nonce, got[4..36]);
        Assert.True(got.AsSpan().IndexOf(device.Dsm.Identity.MeasurementRecord()) > 0, "the device's whole record is in the object");
        Assert.Equal(0, requests.ObjectSize(vdev, CacheObject.Vca, 0, out uint vcaSize));
        var vca = ReadObject(s, vdev, hva, vcaSize, CacheObject.Vca);
        using var key = device.Dsm.Identity.LeafCertificate.GetECDsaPublicKey()!;
        Assert.True(TsmLab.Spdm.Wire.SpdmMeasurementEvidence.Verify(vca, got, nonce, key));
    }

    private static byte[] ReadObject(CcaRealmSession s, uint vdev, ulong hva, uint size, CacheObject id = CacheObject.Measurements)
    {
        var calls = s.Assignment.Calls;
        var p = new byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(p, (uint)id);
        ulong req = calls.Scratch.Put(p);
        var st = new byte[IommuVdeviceTsmReqOpArch.SizeOf];
        BinaryPrimitives.WriteUInt32LittleEndian(st, (uint)st.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(st.AsSpan(IommuVdeviceTsmReqOpArch.VdeviceId), vdev);
        BinaryPrimitives.WriteUInt32LittleEndian(st.AsSpan(IommuVdeviceTsmReqOpArch.Op), (uint)TsmReqOp.ReadObject);
        BinaryPrimitives.WriteUInt32LittleEndian(st.AsSpan(IommuVdeviceTsmReqOpArch.TvmArch), (uint)TvmArch.Cca);
        BinaryPrimitives.WriteUInt32LittleEndian(st.AsSpan(IommuVdeviceTsmReqOpArch.ReqLen), 16);
        BinaryPrimitives.WriteUInt32LittleEndian(st.AsSpan(IommuVdeviceTsmReqOpArch.RespLen), size);
        BinaryPrimitives.WriteUInt64LittleEndian(st.AsSpan(IommuVdeviceTsmReqOpArch.ReqUptr), req);
        BinaryPrimitives.WriteUInt64LittleEndian(st.AsSpan(IommuVdeviceTsmReqOpArch.RespUptr), hva);
        Assert.Equal(0, calls.Process.Ioctl(s.Assignment.IommuFd, IommufdIoctl.VdeviceTsmReq, calls.Scratch.Put(st)));
        var got = new byte[size];
        int rc = calls.Process.Memory.CopyFromUser(got, hva);
        Assert.Equal(0, rc);
        return got;
    }
}
