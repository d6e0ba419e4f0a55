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

/// <summary>An SPDM object (TDH.SPDM.CREATE) and the session state CONNECT gives it.</summary>
internal sealed class SpdmObject(ulong id, uint funcId, ulong mt)
{
    public ulong Id { get; } = id;
    public uint FuncId { get; } = funcId;
    public ulong Mt { get; } = mt;
    public bool Connected { get; set; }
    public byte[] DevInfo { get; set; } = [];
    public int DevInfoGeneration { get; set; }
    /// <summary>Messages exchanged in the session since it was established or last KEY_UPDATE.</summary>
    public int MessagesSinceKeyUpdate { get; set; }
    public int KeyUpdates { get; set; }
    /// <summary>The VMM allowed KEY_UPDATE in spdm_config_info (vmm_spdm_cap bit 14).</summary>
    public bool KeyUpdateCapable { get; set; }
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

/// <summary>An extension call waiting for the host to relay its request (TDX_SPDM_REQUEST given).</summary>
internal sealed class PendingRelay(ushort leaf, ulong spdmId)
{
    public ushort Leaf { get; } = leaf;
    public ulong SpdmId { get; } = spdmId;
    public List<byte[]> Answers { get; } = [];
}
