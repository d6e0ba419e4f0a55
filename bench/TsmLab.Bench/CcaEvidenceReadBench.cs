using System.Buffers.Binary;
using System.Globalization;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using TsmLab.Abi;
using TsmLab.Hosts;
using TsmLab.Kernel;
using TsmLab.Platforms.Cca;
using TsmLab.Platforms.Cca.Abi;
using TsmLab.Platforms.Cca.HostDriver;
using TsmLab.Platforms.Cca.Vmm;
using TsmLab.Tdisp.Device;

namespace TsmLab.Bench;

/// <summary>
/// Benchmark 3: an evidence read. On a <c>cca</c> host whose device reports raw measurements
/// sized so that the MEAS object (the signed GET_MEASUREMENTS request and the device's MEASUREMENTS
/// response, fetched by CHUNK_GET inside the SPDM session) is exactly <see cref="Size"/> bytes, the VMM reads that object whole with one
/// IOMMU_VDEVICE_TSM_REQ(READ_OBJECT, op 5, object MEAS, offset 0) into a response buffer of
/// <see cref="Size"/> bytes in its own memory: fd table, iommufd dispatch, TSM core (payload
/// copy-in), CCA host driver (decode, cache lookup, bounds), copy_to_user page by page, struct
/// copy-back. Baseline: a plain memcpy of the same size. Target: no more than the response
/// size allocated per read (ideally 0 B).
/// <para>
/// How the object gets into the host driver's cache (setup, not measured): REGEN_OBJECT(MEAS)
/// (VDEV_GET_MEASUREMENTS, then COMMUNICATE rounds in which the RMM hands the object over in
/// pieces of the host's 64 KiB buffer and the host driver reassembles it).
/// </para>
/// </summary>
[MemoryDiagnoser]
[Config(typeof(Config))]
public class CcaEvidenceReadBench
{
    private const ulong ResponseHva = 0x7c00_0000_0000;
    private CcaRealmSession s = null!;
    private int fd;
    private ulong read;
    private byte[] src = null!, dst = null!;

    [Params(64 << 10, 1 << 20)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var config = CcaHost.Configuration(TsmAbiProfile.OpArch, new TdispPciDevice(DeviceWithMeasurementsOf(Size)));
        s = CcaRealmSession.Start(TsmAbiProfile.OpArch, config);
        var calls = s.Assignment.Calls;
        fd = s.Assignment.IommuFd;
        uint vdev = s.Assignment.VdeviceId;
        CcaStructs.Check(calls.TsmOp(fd, vdev, IommuVdeviceTsmOp.TypeBind), "TSM_OP(BIND)");

        var requests = new CcaTsmRequests(calls, fd, TsmAbiProfile.OpArch);
        var nonce = new byte[32];
        Random.Shared.NextBytes(nonce);
        // The RMM hands the object over in pieces of the host's 64 KiB buffer; the host driver reassembles it.
        CcaStructs.Check(requests.Regenerate(vdev, CacheObject.Measurements, 1, calls.Scratch.Put(nonce)), "REGEN_OBJECT(MEAS)");
        CcaStructs.Check(requests.ObjectSize(vdev, CacheObject.Measurements, 0, out uint size), "READ_OBJECT size");
        if (size != Size) throw new InvalidOperationException($"measurements object is {size} B, wanted {Size}");

        s.Assignment.Calls.Process.Memory.Map(ResponseHva, (ulong)Size, Prot.ReadWrite);
        Span<byte> p = stackalloc byte[16];
        p.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(p, (uint)CacheObject.Measurements);
        read = CcaStructs.TsmReq(calls, vdev, TsmReqOp.ReadObject, p, ResponseHva, (uint)Size);
        if (ReadObject() != 0) throw new InvalidOperationException("READ_OBJECT did not fill the buffer");
        var got = new byte[Size];
        s.Assignment.Calls.Process.Memory.CopyFromUser(got, ResponseHva);
        // The object starts with the signed GET_MEASUREMENTS request, whose nonce follows its 4-byte header.
        if (got[4..36].AsSpan().SequenceEqual(nonce) == false) throw new InvalidOperationException("READ_OBJECT bytes are not the request and response");

        src = new byte[Size];
        dst = new byte[Size];
        Random.Shared.NextBytes(src);
    }

    /// <summary>
    /// Raw measurement blocks (value ≤ 65535 B each, u16 length) whose MEAS object is
    /// <paramref name="size"/> bytes: the signed GET_MEASUREMENTS request (SPDM 1.3+: header 4, nonce 32,
    /// slot 1, requester context 8) and the MEASUREMENTS response (header 8, Σ(7 + value), nonce 32,
    /// opaque length 2, requester context 8, P-384 signature 96), docs/cca.md.
    /// </summary>
    private static DeviceConfiguration DeviceWithMeasurementsOf(int size)
    {
        int values = size - (45 + 8 + 32 + 2 + 8 + 96);
        int blocks = (values + 65535 + 6) / (65535 + 7);
        values -= 7 * blocks;
        var list = new List<MeasurementConfiguration>();
        for (int i = 0; i < blocks; i++)
        {
            int n = values / (blocks - i);
            var v = new byte[n];
            new Random(i).NextBytes(v);
            list.Add(new MeasurementConfiguration((byte)(i + 1), 0x06, Raw: true, v));
            values -= n;
        }
        var d = DeviceConfiguration.Default;
        return d with { Identity = d.Identity with { Measurements = list } };
    }

    [Benchmark(Baseline = true, Description = "memcpy (Span.CopyTo)")]
    public void Memcpy() => src.AsSpan().CopyTo(dst);

    [Benchmark(Description = "CCA READ_OBJECT(MEAS) whole")]
    public long ReadObject() => s.Assignment.Calls.Process.Ioctl(fd, IommufdIoctl.VdeviceTsmReq, read);

    private sealed class Config : ManualConfig
    {
        public Config() => AddColumn(new BandwidthColumn());
    }

    /// <summary>Size / Mean: bytes moved per nanosecond.</summary>
    private sealed class BandwidthColumn : IColumn
    {
        public string Id => nameof(BandwidthColumn);
        public string ColumnName => "Bytes/ns";
        public bool AlwaysShow => true;
        public ColumnCategory Category => ColumnCategory.Custom;
        public int PriorityInCategory => 0;
        public bool IsNumeric => true;
        public UnitType UnitType => UnitType.Dimensionless;
        public string Legend => "Bytes copied per nanosecond (Size / Mean)";
        public bool IsAvailable(Summary summary) => true;
        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) =>
            summary[benchmarkCase]?.ResultStatistics is { } stats && benchmarkCase.Parameters["Size"] is int size
                ? (size / stats.Mean).ToString("0.00", CultureInfo.InvariantCulture)
                : "-";
    }
}
