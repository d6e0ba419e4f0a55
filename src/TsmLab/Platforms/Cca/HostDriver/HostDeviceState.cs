using TsmLab.Platforms.Cca.Firmware;
using TsmLab.Kernel.Pci;
using TsmLab.Platforms.Cca.Abi;
using TsmLab.Tdisp.Requester;

namespace TsmLab.Platforms.Cca.HostDriver;

/// <summary>The host driver's per-DSM state (cca_host_pdev_dsc): the PDEV granule, the comm buffers, the DOE link and the device-level objects it cached.</summary>
internal sealed class HostPdev(PciFunction dsm, ulong pdevId, ITdispTransport transport, ISpdmEvidence? evidence, CommBuffers buffers)
{
    /// <summary>This DSM's own RMI buffers (guarded, like everything here, by the DSM's mutex in the TSM core, or by the rwsem held for write at connect and disconnect).</summary>
    public CommBuffers Buffers { get; } = buffers;
    public PciFunction Dsm { get; } = dsm;
    public ulong PdevId { get; } = pdevId;
    public ITdispTransport Transport { get; } = transport;
    public ISpdmEvidence? Evidence { get; } = evidence;
    public ulong Pdev { get; set; }
    public Dictionary<CacheObject, byte[]> Objects { get; } = new();
}

/// <summary>A DSM's RMI buffers by physical address: the COMMUNICATE struct, its data buffer, the VDEV and measurement parameter pages.</summary>
internal sealed record CommBuffers(ulong Comm, ulong Buffer, ulong MeasParams, ulong VdevParams);

/// <summary>The host driver's per-TDI state (cca_host_tdi): the VDEV granule, the realm, the cached objects and the device mappings it made.</summary>
internal sealed class HostVdev(HostPdev pdev, ulong rd, ulong vdev)
{
    public HostPdev Pdev { get; } = pdev;
    public ulong Rd { get; } = rd;
    public ulong Vdev { get; } = vdev;
    public Dictionary<CacheObject, byte[]> Objects { get; } = new();
    /// <summary>IPA page to PA of every RTT_DEV_MAP this TDI made.</summary>
    public Hardware.SparsePageMap<ulong> Mappings { get; } = new();
}
