using TsmLab.Abi;
using TsmLab.Platforms.Cca;
using TsmLab.Platforms.Cca.Abi;
using TsmLab.Platforms.Cca.Vmm;
using TsmLab.Tdisp.Device;
using System.Buffers.Binary;

namespace TsmLab.Tests.Platforms.Cca;

/// <summary>An object larger than the host driver's 64 KiB COMMUNICATE buffer arrives in pieces and is reassembled.</summary>
public class CcaLargeObjectTests
{
    [Theory]
    [InlineData(200_000)]
    [InlineData(1 << 20)]
    public void Measurements_LargerThanTheCommBuffer_AreFetchedInPiecesAndReadBack(int valueBytes)
    {
        var d = DeviceConfiguration.Default;
        var blocks = Enumerable.Range(0, (valueBytes + 65_000 - 1) / 65_000)
            .Select(i => new MeasurementConfiguration((byte)(i + 1), 0x06, Raw: true, Enumerable.Range(0, Math.Min(65_000, valueBytes - i * 65_000)).Select(b => (byte)(b * 7 + i)).ToArray()))
            .ToList();
        var device = new TdispPciDevice(d with { Identity = d.Identity with { Measurements = blocks } });
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
        var expected = new TsmLab.Platforms.Cca.HostDriver.SpdmEvidenceStandIn(device.Dsm.Identity).SignedMeasurements(nonce, raw: true);
        Assert.Equal(expected.Length, got.Length);
        Assert.Equal(expected[..^96], got[..^96]); // the transcript; the signature over it is checked below
        Assert.True(device.Dsm.Identity.LeafKey.VerifyData(got[..^98], got[^96..], System.Security.Cryptography.HashAlgorithmName.SHA384)); // nonce, length and record are signed; sig_len is not
        Assert.Equal(nonce, got[..32]);
    }

    private static byte[] ReadObject(CcaRealmSession s, uint vdev, ulong hva, uint size)
    {
        var calls = s.Assignment.Calls;
        var p = new byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(p, (uint)CacheObject.Measurements);
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
        Assert.Equal(0, calls.Process.Memory.CopyFromUser(got, hva));
        return got;
    }
}
