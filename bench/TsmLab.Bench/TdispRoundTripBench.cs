using BenchmarkDotNet.Attributes;
using TsmLab.Tdisp.Device;
using TsmLab.Tdisp.Requester;
using TsmLab.Tdisp.Wire;

namespace TsmLab.Bench;

/// <summary>
/// An in-process TDISP round trip: GET_DEVICE_INTERFACE_STATE through the device's dispatch,
/// directly and through SPDM VENDOR_DEFINED + DOE framing. Target: under 1 µs, zero allocation.
/// </summary>
[MemoryDiagnoser]
public class TdispRoundTripBench
{
    private readonly byte[] request = new byte[1 + HeaderOnlyMessage.Size];
    private byte[] response = null!;
    private DirectTransport direct = null!;
    private DoeTransport doe = null!;

    [GlobalSetup]
    public void Setup()
    {
        var dsm = DeviceSecurityManager.CreateDefault();
        request[0] = 0x01; // protocol_id TDISP
        HeaderOnlyMessage.WriteGetDeviceInterfaceState(request.AsSpan(1), TdiFunctionId.FromRid(0x0101));
        response = new byte[dsm.MaxResponseSize];
        direct = new DirectTransport(dsm);
        doe = new DoeTransport(DoeMailbox.For(dsm));
    }

    [Benchmark(Baseline = true, Description = "GET_STATE direct")]
    public int Direct() => direct.Exchange(request, response);

    [Benchmark(Description = "GET_STATE over SPDM+DOE")]
    public int OverDoe() => doe.Exchange(request, response);
}
