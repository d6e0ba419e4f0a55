namespace TsmLab.Platforms.Tdx.Abi;

/// <summary>Which instruction enters a leaf.</summary>
public enum TdxCallKind
{
    /// <summary>Host (VMM/kernel) to the TDX module.</summary>
    Seamcall,
    /// <summary>TD guest to the TDX module.</summary>
    Tdcall,
}

/// <summary>Where a leaf's number and registers come from (docs/tdx.md labels every leaf with it).</summary>
public enum LeafProvenance
{
    /// <summary>Number and register ABI read from public Gen-2 (or base TDX) Linux code.</summary>
    ByteExact,
    /// <summary>Number from the public Gen-1 TDX-IO module; registers as Gen-1 gives them or as TsmLab adapts them.</summary>
    Gen1TdxIo,
    /// <summary>No public source: TsmLab's number and registers.</summary>
    TsmLab,
}

/// <summary>One leaf: number, name, how it is entered, where it comes from.</summary>
public sealed record TdxLeaf(ushort Number, string Name, TdxCallKind Kind, LeafProvenance Provenance);

/// <summary>
/// Every SEAMCALL and TDCALL leaf TsmLab's TDX module serves, as one catalog. Gen-2 TDX Connect
/// numbers 60/61/128–135/142–144 are byte-exact [TX1]; TDH.MNG.CREATE (9), TDG.VP.VMCALL (0) and
/// TDG.VM.RD (7) are base TDX leaves of the same Linux headers [TX1,TX30]. Gen-2 has not published
/// its TDI, MMIO and DMA leaves: TsmLab takes the Gen-1 TDX-IO numbers where a Gen-1 leaf does the
/// same job [TX12], and defines its own where none does (TDH.TDI.START 141, TDG.TDI.START 73).
/// </summary>
public static class TdxLeaves
{
    // Gen-2 TDX Connect host leaves [TX1].
    public const ushort ExtInit = 60, ExtMemAdd = 61;
    public const ushort IommuSetup = 128, IommuClear = 129;
    public const ushort SpdmCreate = 130, SpdmDelete = 131;
    public const ushort IdeStreamCreate = 132, IdeStreamBlock = 133, IdeStreamDelete = 134, IdeStreamKm = 135;
    public const ushort SpdmConnect = 142, SpdmDisconnect = 143, SpdmMng = 144;
    // Base TDX host leaf (Linux tdx.h, same header as [TX1]).
    public const ushort MngCreate = 9;
    // Gen-1 TDX-IO numbers for the jobs Gen-2 has not published [TX12].
    public const ushort DevifCreate = 137, DevifRemove = 138, DmarAdd = 150, DmarRemove = 153;
    public const ushort MmioMap = 158, MmioBlock = 159, MmioUnmap = 160, DevifMtRead = 166;
    // TsmLab definition: Gen-2 names TDH.TDI.START [TX17,TX18] without a number; 141 is unused by Gen-1 and unpublished in Gen-2.
    public const ushort TdiStart = 141;

    // Guest leaves.
    public const ushort VpVmcall = 0, VmRead = 7;
    public const ushort TdiRead = 67, DmarAccept = 70, MmioAccept = 71;
    public const ushort TdiStartGuest = 73;

    public static readonly IReadOnlyList<TdxLeaf> All = (TdxLeaf[])
    [
        new(MngCreate, "TDH.MNG.CREATE", TdxCallKind.Seamcall, LeafProvenance.ByteExact),
        new(ExtInit, "TDH.EXT.INIT", TdxCallKind.Seamcall, LeafProvenance.ByteExact),
        new(ExtMemAdd, "TDH.EXT.MEM.ADD", TdxCallKind.Seamcall, LeafProvenance.ByteExact),
        new(IommuSetup, "TDH.IOMMU.SETUP", TdxCallKind.Seamcall, LeafProvenance.ByteExact),
        new(IommuClear, "TDH.IOMMU.CLEAR", TdxCallKind.Seamcall, LeafProvenance.ByteExact),
        new(SpdmCreate, "TDH.SPDM.CREATE", TdxCallKind.Seamcall, LeafProvenance.ByteExact),
        new(SpdmDelete, "TDH.SPDM.DELETE", TdxCallKind.Seamcall, LeafProvenance.ByteExact),
        new(IdeStreamCreate, "TDH.IDE.STREAM.CREATE", TdxCallKind.Seamcall, LeafProvenance.ByteExact),
        new(IdeStreamBlock, "TDH.IDE.STREAM.BLOCK", TdxCallKind.Seamcall, LeafProvenance.ByteExact),
        new(IdeStreamDelete, "TDH.IDE.STREAM.DELETE", TdxCallKind.Seamcall, LeafProvenance.ByteExact),
        new(IdeStreamKm, "TDH.IDE.STREAM.KM", TdxCallKind.Seamcall, LeafProvenance.ByteExact),
        new(SpdmConnect, "TDH.SPDM.CONNECT", TdxCallKind.Seamcall, LeafProvenance.ByteExact),
        new(SpdmDisconnect, "TDH.SPDM.DISCONNECT", TdxCallKind.Seamcall, LeafProvenance.ByteExact),
        new(SpdmMng, "TDH.SPDM.MNG", TdxCallKind.Seamcall, LeafProvenance.ByteExact),
        new(DevifCreate, "TDH.DEVIF.CREATE", TdxCallKind.Seamcall, LeafProvenance.Gen1TdxIo),
        new(DevifRemove, "TDH.DEVIF.REMOVE", TdxCallKind.Seamcall, LeafProvenance.Gen1TdxIo),
        new(DmarAdd, "TDH.DMAR.ADD", TdxCallKind.Seamcall, LeafProvenance.Gen1TdxIo),
        new(DmarRemove, "TDH.DMAR.REMOVE", TdxCallKind.Seamcall, LeafProvenance.Gen1TdxIo),
        new(MmioMap, "TDH.MMIO.MAP", TdxCallKind.Seamcall, LeafProvenance.Gen1TdxIo),
        new(MmioBlock, "TDH.MMIO.BLOCK", TdxCallKind.Seamcall, LeafProvenance.Gen1TdxIo),
        new(MmioUnmap, "TDH.MMIO.UNMAP", TdxCallKind.Seamcall, LeafProvenance.Gen1TdxIo),
        new(DevifMtRead, "TDH.DEVIF.MT.RD", TdxCallKind.Seamcall, LeafProvenance.Gen1TdxIo),
        new(TdiStart, "TDH.TDI.START", TdxCallKind.Seamcall, LeafProvenance.TsmLab),
        new(VpVmcall, "TDG.VP.VMCALL", TdxCallKind.Tdcall, LeafProvenance.ByteExact),
        new(VmRead, "TDG.VM.RD", TdxCallKind.Tdcall, LeafProvenance.ByteExact),
        new(TdiRead, "TDG.TDI.RD", TdxCallKind.Tdcall, LeafProvenance.Gen1TdxIo),
        new(DmarAccept, "TDG.DMAR.ACCEPT", TdxCallKind.Tdcall, LeafProvenance.Gen1TdxIo),
        new(MmioAccept, "TDG.MMIO.ACCEPT", TdxCallKind.Tdcall, LeafProvenance.Gen1TdxIo),
        new(TdiStartGuest, "TDG.TDI.START", TdxCallKind.Tdcall, LeafProvenance.TsmLab),
    ];

    /// <summary>The leaf's name, or "SEAMCALL 0x…"/"TDCALL 0x…" when it is not one the module serves.</summary>
    public static string NameOf(TdxCallKind kind, ushort number)
    {
        var all = (TdxLeaf[])All;
        for (int i = 0; i < all.Length; i++)
            if (all[i].Kind == kind && all[i].Number == number) return all[i].Name;
        return $"{kind.ToString().ToUpperInvariant()} {number}";
    }
}

/// <summary>TDH.SPDM.MNG operations (RDX) [TX5].</summary>
public enum SpdmMngOp : ulong
{
    Heartbeat = 0,
    KeyUpdate = 1,
    DevInfoRecollect = 2,
}

/// <summary>TDH.IDE.STREAM.KM operations (R8) [TX6].</summary>
public enum IdeKmOp : ulong
{
    Setup = 0,
    Refresh = 1,
    Stop = 2,
}

/// <summary>TDH.IDE.STREAM.CREATE stream_info (RCX) [TX6]: bits 7:0 root-port devfn, bit 8 stream type (0 link, 1 selective).</summary>
public static class IdeStreamInfo
{
    public const ulong Selective = 1ul << 8;
    public static ulong Of(byte rootPortDevfn, bool selective) => rootPortDevfn | (selective ? Selective : 0);
}
