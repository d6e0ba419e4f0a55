using TsmLab.Spdm.Requester;
using TsmLab.Spdm.Session;
using TsmLab.Tdisp.Requester;
using TsmLab.Tdisp.Wire;

namespace TsmLab.Platforms.Tdx.Firmware;

/// <summary>A TD as the module knows it: its TDR page, HKID and TD-scope CONFIG_FLAGS.</summary>
internal sealed class TdxTd(ulong tdr, ulong hkid)
{
    public ulong Tdr { get; } = tdr;
    public ulong Hkid { get; } = hkid;
    public ulong ConfigFlags { get; set; }
}

/// <summary>One DRHD the module set up (TDH.IOMMU.SETUP).</summary>
internal sealed class TdxIommu(ulong id, ulong registerBase, ulong mt)
{
    public ulong Id { get; } = id;
    public ulong RegisterBase { get; } = registerBase;
    public ulong Mt { get; } = mt;
}

/// <summary>
/// An SPDM object (TDH.SPDM.CREATE) and the conversation CONNECT gives it: the module's SPDM requester
/// over a relay channel the host's calls resume, the secured session, and TDISP / IDE_KM inside it.
/// The module's lock guards it.
/// </summary>
internal sealed class SpdmObject : IDisposable
{
    public SpdmObject(ulong id, uint funcId, ulong mt)
    {
        Id = id;
        FuncId = funcId;
        Mt = mt;
        // The response page holds one DOE object: a secured message's overhead and the header fit around DataTransferSize.
        Requester = new SpdmRequester(Channel, new SpdmRequesterSettings
        {
            DataTransferSize = SpdmRelay.PageSize - 64,
            Capabilities = new SpdmRequesterSettings().Capabilities | TsmLab.Spdm.Wire.SpdmCapabilities.Chunk,
        });
    }

    public ulong Id { get; }
    public uint FuncId { get; }
    public ulong Mt { get; }
    public RelayChannel Channel { get; } = new();
    public SpdmRequester Requester { get; }
    public SpdmSession? Session { get; set; }
    /// <summary>TDISP and IDE_KM inside <see cref="Session"/>.</summary>
    public TdispRequester? Tdisp { get; set; }
    public bool Connected { get; set; }
    public byte[] DevInfo { get; set; } = [];
    public int DevInfoGeneration { get; set; }
    /// <summary>Messages exchanged in the session since it was established or last KEY_UPDATE.</summary>
    public int MessagesSinceKeyUpdate { get; set; }
    public int KeyUpdates { get; set; }
    /// <summary>The VMM allowed KEY_UPDATE in spdm_config_info (vmm_spdm_cap bit 14).</summary>
    public bool KeyUpdateCapable { get; set; }

    public void Dispose() => Requester.Dispose();
}

/// <summary>A selective IDE stream (TDH.IDE.STREAM.CREATE).</summary>
internal sealed class IdeStreamObject(ulong id, SpdmObject spdm, byte streamId, byte rootPortDevfn, ulong mt)
{
    public ulong Id { get; } = id;
    public SpdmObject Spdm { get; } = spdm;
    /// <summary>The IDE Stream ID programmed on both ends.</summary>
    public byte StreamId { get; } = streamId;
    public byte RootPortDevfn { get; } = rootPortDevfn;
    public ulong Mt { get; } = mt;
    public bool KeysActive { get; set; }
    public int KeySet { get; set; }
    public bool Blocked { get; set; }
}

/// <summary>A device interface bound to a TD (TDH.DEVIF.CREATE): the TDI, the report and what the TD may read.</summary>
internal sealed class DeviceInterface(uint funcId, TdxTd td, SpdmObject spdm, IdeStreamObject stream, ulong cs)
{
    public uint FuncId { get; } = funcId;
    public TdxTd Td { get; } = td;
    public SpdmObject Spdm { get; } = spdm;
    public IdeStreamObject Stream { get; } = stream;
    public ulong Cs { get; } = cs;
    public byte[] StartNonce { get; set; } = [];
    public byte[] Report { get; set; } = [];
    public byte[] ReportHash { get; set; } = [];
    public MmioRange[] Ranges { get; set; } = [];
    public ulong BindSessionId { get; set; }
    public TdiState State { get; set; }
    public bool StartRequested { get; set; }
    /// <summary>Private MMIO pages mapped for this TDI.</summary>
    public int MappedPages { get; set; }
}

/// <summary>A device MMIO page mapped into a TD's secure EPT (TDH.MMIO.MAP), pending until the TD accepts it.</summary>
internal sealed class PrivateMmio(ulong gpa, ulong pa, DeviceInterface devif)
{
    public ulong Gpa { get; } = gpa;
    public ulong Pa { get; } = pa;
    public DeviceInterface Devif { get; } = devif;
    public bool Accepted { get; set; }
    public bool Blocked { get; set; }
}

/// <summary>A TDI's trusted-DMA (PASID table) entry (TDH.DMAR.ADD): present only once the TD accepted it.</summary>
internal sealed class DmarEntry(DeviceInterface devif, TdxIommu iommu)
{
    public DeviceInterface Devif { get; } = devif;
    public TdxIommu Iommu { get; } = iommu;
    public bool Present { get; set; }
}

/// <summary>An extension call waiting for the host to relay its request (TDX_SPDM_REQUEST given): its flow and how many objects it exchanged.</summary>
internal sealed class PendingRelay(ushort leaf, SpdmObject spdm, ValueTask<RelayOutcome> flow)
{
    public ushort Leaf { get; } = leaf;
    public SpdmObject Spdm { get; } = spdm;
    public ulong SpdmId => Spdm.Id;
    public ValueTask<RelayOutcome> Flow { get; } = flow;
    public int Exchanged { get; set; }
}

/// <summary>How a relayed flow ended: its status and, on success, what to commit (returning the output RCX).</summary>
internal readonly record struct RelayOutcome(ulong Status, Func<ulong>? Commit = null);
