using TsmLab.Platforms.Cca.Firmware;
using TsmLab.Kernel.Pci;
using TsmLab.Platforms.Cca.Abi;

namespace TsmLab.Platforms.Cca.HostDriver;

/// <summary>The host driver's per-DSM state (cca_host_pdev_dsc): the PDEV granule, the comm buffers, the DSM's DOE mailbox it relays through and the device-level objects it cached.</summary>
internal sealed class HostPdev(PciFunction dsm, ulong pdevId, IDoeMailbox doe, CommBuffers buffers)
{
    /// <summary>This DSM's own RMI buffers (guarded, like everything here, by the DSM's mutex in the TSM core, or by the rwsem held for write at connect and disconnect).</summary>
    public CommBuffers Buffers { get; } = buffers;
    public PciFunction Dsm { get; } = dsm;
    public ulong PdevId { get; } = pdevId;
    /// <summary>The DSM's DOE mailbox as the kernel reaches it (traced and captured): every object the RMM asks the host to send goes here.</summary>
    public IDoeMailbox Doe { get; } = doe;
    /// <summary>The cache object being reassembled from RSP_CACHE pieces (reused across objects).</summary>
    public System.Buffers.ArrayBufferWriter<byte> Assembly { get; } = new();
    public ulong Pdev { get; set; }
    public Dictionary<CacheObject, byte[]> Objects { get; } = new();
}

/// <summary>A DSM's RMI buffers by physical address: the COMMUNICATE struct, its request and response buffers, the VDEV and measurement parameter pages.</summary>
internal sealed record CommBuffers(ulong Comm, ulong Request, ulong Response, ulong MeasParams, ulong VdevParams);

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
