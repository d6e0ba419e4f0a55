using System.Buffers.Binary;
using System.Security.Cryptography;
using TsmLab.Hardware;
using TsmLab.Platforms.Tdx.Abi;
using TsmLab.Tdisp.Requester;
using TsmLab.Tracing;

namespace TsmLab.Platforms.Tdx.Firmware;

/// <summary>
/// The Intel TDX module with the Gen-2 TDX Connect extension: SEAMCALL leaves from the host
/// (<see cref="Seamcall"/>) and TDCALL leaves from TDs (<see cref="Tdcall"/>), each a row of one
/// table with its number, name and whether it is an extension call. Statuses come back in RAX,
/// outputs in the leaf's registers; a failing call changes nothing. The module reaches devices
/// only through the host's relay (<see cref="SpdmRelay"/>), owns every page handed to it in an
/// HPA_ARRAY_T until it gives it back, and keeps per TDI the report, its SHA-384 hash and the bind
/// session id a TD reads with TDG.TDI.RD. Leaf numbers and registers: docs/tdx.md.
/// </summary>
/// <remarks>
/// Thread safety: one lock (<c>gate</c>) guards all module state, as the real module serialises
/// on its own locks. The extension takes one caller at a time [TX4,TX7]: a caller that finds an
/// extension call running on another thread, or another extension operation waiting for its
/// relay, gets TDX_OPERAND_BUSY.
/// </remarks>
public sealed partial class TdxModule : IPlatformFirmware
{
    private readonly Lock gate = new();
    private readonly byte[] seed;
    private readonly HashSet<ulong> ownedPages = [];
    private readonly Dictionary<ulong, TdxTd> tds = [];
    private readonly List<TdxIommu> iommus = [];
    private readonly Dictionary<ulong, SpdmObject> spdms = [];
    private readonly Dictionary<ulong, IdeStreamObject> streams = [];
    /// <summary>Device interfaces by func_id (one per function: TDH.DEVIF.CREATE refuses a second).</summary>
    private readonly Dictionary<uint, DeviceInterface> devifs = [];
    /// <summary>Each TD's private MMIO pages by GPA (its secure-EPT leaves), in 512-entry blocks as an EPT keeps them.</summary>
    private readonly PrivateMmioTable privateMmio = new();
    /// <summary>The device pages mapped into any TD (a page is mapped once).</summary>
    private readonly Hardware.SparsePageMap<bool> mappedMmioPages = new();

    /// <summary>Private MMIO mappings keyed by (TDR, GPA): one page map per TD instead of one dictionary entry per page.</summary>
    private sealed class PrivateMmioTable
    {
        private readonly record struct Slot(PrivateMmio Entry);
        private readonly Dictionary<ulong, Hardware.SparsePageMap<Slot>> byTd = [];

        public bool TryGetValue((ulong Tdr, ulong Gpa) key, out PrivateMmio entry)
        {
            entry = null!;
            if (!byTd.TryGetValue(key.Tdr, out var map) || !map.TryGetValue(key.Gpa, out var slot)) return false;
            entry = slot.Entry;
            return true;
        }

        public bool ContainsKey((ulong Tdr, ulong Gpa) key) => TryGetValue(key, out _);

        public PrivateMmio this[(ulong Tdr, ulong Gpa) key]
        {
            get => TryGetValue(key, out var e) ? e : throw new KeyNotFoundException();
            set
            {
                if (!byTd.TryGetValue(key.Tdr, out var map)) byTd[key.Tdr] = map = new();
                map.Set(key.Gpa, new Slot(value));
            }
        }

        public void Remove((ulong Tdr, ulong Gpa) key)
        {
            if (!byTd.TryGetValue(key.Tdr, out var map)) return;
            map.Remove(key.Gpa);
            if (map.Count == 0) byTd.Remove(key.Tdr);
        }
    }
    private readonly List<DmarEntry> dmar = [];
    private PendingRelay? pending;
    private int extensionCallers;
    private int poolPages;
    private bool extInitialised;
    private ulong nextId = 1;
    private TraceLog? trace;

    /// <param name="memory">The machine's physical memory (pages named by HPA_ARRAY_T, the relay pages).</param>
    /// <param name="drhds">The machine's DMA remapping units (TDH.IOMMU.SETUP looks them up by register base).</param>
    /// <param name="options">Model limits; defaults when null.</param>
    /// <param name="seed">Derives IDE keys, measurement nonces and bind session ids (HKDF-SHA-384); fixed by default so runs are reproducible.</param>
    public TdxModule(PhysicalMemory memory, IReadOnlyList<TdxDrhd> drhds, TdxModuleOptions? options = null, byte[]? seed = null)
    {
        Memory = memory;
        Drhds = drhds;
        Options = options ?? new TdxModuleOptions();
        this.seed = seed ?? "tsmlab-tdx-module"u8.ToArray();
    }

    /// <inheritdoc/>
    public string Name => "TDX module";

    public PhysicalMemory Memory { get; }
    public IReadOnlyList<TdxDrhd> Drhds { get; }
    public TdxModuleOptions Options { get; }

    /// <summary>The global metadata a host reads before enabling the extension (stands for TDH.SYS.RD, whose field ids are not public).</summary>
    public TdxSysInfo SysInfo => Options.SysInfo;

    /// <summary>Calls served by kind and leaf number (bounded: RAX's 16-bit leaf), named only when asked.</summary>
    private readonly Dictionary<(TdxCallKind Kind, ushort Leaf), int> callCounts = [];

    /// <summary>How many times each SEAMCALL and TDCALL leaf was served, by name ("SEAMCALL n"/"TDCALL n" for a leaf the module does not serve).</summary>
    public int CallCount(string leafName)
    {
        lock (gate)
        {
            int n = 0;
            foreach (var ((kind, leaf), count) in callCounts)
                if (TdxLeaves.NameOf(kind, leaf) == leafName) n += count;
            return n;
        }
    }

    private void Count(TdxCallKind kind, ushort leaf)
    {
        lock (gate) callCounts[(kind, leaf)] = callCounts.GetValueOrDefault((kind, leaf)) + 1;
    }

    /// <inheritdoc/>
    public void AttachTrace(TraceLog? log) => trace = log;

    /// <summary>
    /// Stands for TD_PARAMS.CONFIG_FLAGS at TDH.MNG.INIT (not modelled): KVM opts the TD in to
    /// TDX Connect (bit 5). False when no TD has that TDR.
    /// </summary>
    public bool SetTdConfigFlags(ulong tdr, ulong flags)
    {
        lock (gate)
        {
            if (!tds.TryGetValue(tdr, out var td)) return false;
            td.ConfigFlags = flags;
            return true;
        }
    }

    /// <summary>True when the IOMMU lets the function DMA into its TD's private memory: a present trusted-DMA entry of a TDI in RUN.</summary>
    public bool TrustedDmaEnabled(uint funcId)
    {
        lock (gate) return dmar.Any(e => e.Devif.FuncId == funcId && e.Present && e.Devif.State == Tdisp.Wire.TdiState.Run);
    }

    /// <summary>The module's TDI state for a function, or CONFIG_UNLOCKED when it is bound to no TD (observation for tests and the demo).</summary>
    public Tdisp.Wire.TdiState StateOf(uint funcId)
    {
        lock (gate) return devifs.GetValueOrDefault(funcId)?.State ?? Tdisp.Wire.TdiState.ConfigUnlocked;
    }

    /// <summary>Times the module asked for an SPDM key update and got it (tests).</summary>
    public int KeyUpdates(ulong spdmId)
    {
        lock (gate) return spdms.TryGetValue(spdmId, out var s) ? s.KeyUpdates : 0;
    }

    /// <summary>
    /// SEAMCALL: runs the leaf RAX names with the registers in <paramref name="r"/>; the status
    /// comes back in RAX and outputs in the leaf's registers. Never throws for bad input.
    /// </summary>
    public void Seamcall(ref TdxRegisters r)
    {
        ushort leaf = r.Leaf;
        ulong rcx = r.Rcx, rdx = r.Rdx, r8 = r.R8;
        var log = trace;
        long seq = log?.Reserve() ?? 0;
        r.Rax = Dispatch(ref r);
        Count(TdxCallKind.Seamcall, leaf);
        log?.Record(seq, TraceLayer.Kernel, TraceLayer.Firmware, TraceKind.FirmwareCall, $"SEAMCALL {TdxLeaves.NameOf(TdxCallKind.Seamcall, leaf)}", TdxStatus.NameOf(r.Rax),
            new("leaf", leaf.ToString(System.Globalization.CultureInfo.InvariantCulture)), new("rcx", $"0x{rcx:x}"), new("rdx", $"0x{rdx:x}"), new("r8", $"0x{r8:x}"),
            new("out_rcx", $"0x{r.Rcx:x}"));
    }

    private delegate ulong Handler(TdxModule m, ref TdxRegisters r);

    /// <summary>One SEAMCALL leaf the module serves: number, whether it is an extension call, and its handler.</summary>
    private sealed record SeamcallRow(ushort Leaf, bool Extension, Handler Handler);

    /// <summary>
    /// The SEAMCALL table. Extension calls (CONNECT, DISCONNECT, MNG, IDE.STREAM.KM [TX5], and the
    /// device-talking TDI leaves, TsmLab) take the extension's single caller slot.
    /// </summary>
    private static readonly SeamcallRow[] SeamcallRows =
    [
        new(TdxLeaves.MngCreate, false, static (TdxModule m, ref TdxRegisters r) => m.MngCreate(ref r)),
        new(TdxLeaves.ExtMemAdd, false, static (TdxModule m, ref TdxRegisters r) => m.ExtMemAdd(ref r)),
        new(TdxLeaves.ExtInit, false, static (TdxModule m, ref TdxRegisters r) => m.ExtInit(ref r)),
        new(TdxLeaves.IommuSetup, false, static (TdxModule m, ref TdxRegisters r) => m.IommuSetup(ref r)),
        new(TdxLeaves.IommuClear, false, static (TdxModule m, ref TdxRegisters r) => m.IommuClear(ref r)),
        new(TdxLeaves.SpdmCreate, false, static (TdxModule m, ref TdxRegisters r) => m.SpdmCreate(ref r)),
        new(TdxLeaves.SpdmDelete, false, static (TdxModule m, ref TdxRegisters r) => m.SpdmDelete(ref r)),
        new(TdxLeaves.SpdmConnect, true, static (TdxModule m, ref TdxRegisters r) => m.SpdmConnect(ref r)),
        new(TdxLeaves.SpdmDisconnect, true, static (TdxModule m, ref TdxRegisters r) => m.SpdmDisconnect(ref r)),
        new(TdxLeaves.SpdmMng, true, static (TdxModule m, ref TdxRegisters r) => m.SpdmMng(ref r)),
        new(TdxLeaves.IdeStreamCreate, false, static (TdxModule m, ref TdxRegisters r) => m.IdeStreamCreate(ref r)),
        new(TdxLeaves.IdeStreamBlock, false, static (TdxModule m, ref TdxRegisters r) => m.IdeStreamBlock(ref r)),
        new(TdxLeaves.IdeStreamDelete, false, static (TdxModule m, ref TdxRegisters r) => m.IdeStreamDelete(ref r)),
        new(TdxLeaves.IdeStreamKm, true, static (TdxModule m, ref TdxRegisters r) => m.IdeStreamKm(ref r)),
        new(TdxLeaves.DevifCreate, true, static (TdxModule m, ref TdxRegisters r) => m.DevifCreate(ref r)),
        new(TdxLeaves.DevifRemove, true, static (TdxModule m, ref TdxRegisters r) => m.DevifRemove(ref r)),
        new(TdxLeaves.TdiStart, true, static (TdxModule m, ref TdxRegisters r) => m.TdiStart(ref r)),
        new(TdxLeaves.DevifMtRead, false, static (TdxModule m, ref TdxRegisters r) => m.DevifMtRead(ref r)),
        new(TdxLeaves.DmarAdd, false, static (TdxModule m, ref TdxRegisters r) => m.DmarAdd(ref r)),
        new(TdxLeaves.DmarRemove, false, static (TdxModule m, ref TdxRegisters r) => m.DmarRemove(ref r)),
        new(TdxLeaves.MmioMap, false, static (TdxModule m, ref TdxRegisters r) => m.MmioMap(ref r)),
        new(TdxLeaves.MmioBlock, false, static (TdxModule m, ref TdxRegisters r) => m.MmioBlock(ref r)),
        new(TdxLeaves.MmioUnmap, false, static (TdxModule m, ref TdxRegisters r) => m.MmioUnmap(ref r)),
    ];

    private ulong Dispatch(ref TdxRegisters r)
    {
        if (r.HasReservedRaxBits || r.Version != 0) return TdxStatus.OperandInvalid;
        foreach (var row in SeamcallRows)
        {
            if (row.Leaf != r.Leaf) continue;
            if (!row.Extension)
                lock (gate) return row.Handler(this, ref r);
            if (Interlocked.Increment(ref extensionCallers) != 1)
            {
                Interlocked.Decrement(ref extensionCallers);
                return TdxStatus.OperandBusy;
            }
            try
            {
                lock (gate)
                {
                    if (!extInitialised) return TdxStatus.ConnectInvalidState;
                    if (pending is { } p && (p.Leaf != r.Leaf || p.SpdmId != r.Rcx)) return TdxStatus.OperandBusy;
                    return row.Handler(this, ref r);
                }
            }
            finally { Interlocked.Decrement(ref extensionCallers); }
        }
        return TdxStatus.OperandInvalid;
    }

    /// <summary>Test hook: holds the extension's caller slot as a concurrent caller on another CPU would.</summary>
    internal IDisposable OccupyExtension()
    {
        Interlocked.Increment(ref extensionCallers);
        return new Release(() => Interlocked.Decrement(ref extensionCallers));
    }

    private sealed class Release(Action a) : IDisposable
    {
        public void Dispose() => a();
    }

    // ---- base TDX and extension set-up ----

    /// <summary>TDH.MNG.CREATE: RCX = TDR PA, RDX = HKID (Linux tdh_mng_create). The TDR page becomes the module's.</summary>
    private ulong MngCreate(ref TdxRegisters r)
    {
        ulong tdr = r.Rcx;
        if ((tdr & 0xFFF) != 0 || !Memory.TryPage(tdr, out _)) return TdxStatus.OperandInvalid | TdxStatus.OperandRcx;
        if (!ownedPages.Add(tdr)) return TdxStatus.PageMetadataIncorrect | TdxStatus.OperandRcx;
        tds[tdr] = new TdxTd(tdr, r.Rdx);
        return TdxStatus.Success;
    }

    /// <summary>TDH.EXT.MEM.ADD: RCX = HPA_ARRAY_T of pages for the extension's memory pool; out RCX = pages still required (TsmLab).</summary>
    private ulong ExtMemAdd(ref TdxRegisters r)
    {
        if (extInitialised) return TdxStatus.ConnectInvalidState;
        var st = TakePages(r.Rcx, 1, out _);
        if (st != TdxStatus.Success) return st;
        poolPages += HpaArray.Entries(r.Rcx);
        r.Rcx = (ulong)Math.Max(0, SysInfo.MemoryPoolRequiredPages - poolPages);
        return TdxStatus.Success;
    }

    /// <summary>TDH.EXT.INIT: no operands; needs memory_pool_required_pages in the pool (TDX_OPERAND_INVALID otherwise, TsmLab); once only.</summary>
    private ulong ExtInit(ref TdxRegisters r)
    {
        if (extInitialised) return TdxStatus.ConnectInvalidState;
        if (poolPages < SysInfo.MemoryPoolRequiredPages) return TdxStatus.OperandInvalid;
        extInitialised = true;
        return TdxStatus.Success;
    }

    /// <summary>
    /// TDH.IOMMU.SETUP: RCX = the DRHD's register base (vtbar), RDX = HPA_ARRAY_T(iommu_mt); out RCX
    /// = iommu_id. Register order TsmLab (the C signature is public [TX4], the mapping was not read).
    /// A DRHD without TDX mode answers TDX_OPERAND_INVALID, which Linux skips [TX4].
    /// </summary>
    private ulong IommuSetup(ref TdxRegisters r)
    {
        ulong vtbar = r.Rcx;
        var drhd = Drhds.FirstOrDefault(d => d.RegisterBase == vtbar);
        if (drhd is null || !drhd.TdxCapable) return TdxStatus.OperandInvalid | TdxStatus.OperandRcx;
        if (iommus.Any(i => i.RegisterBase == vtbar)) return TdxStatus.IommuInvalidState;
        var st = TakePages(r.Rdx, SysInfo.IommuMtPageCount, out _);
        if (st != TdxStatus.Success) return st;
        var iommu = new TdxIommu(nextId++, r.Rcx, r.Rdx);
        iommus.Add(iommu);
        r.Rcx = iommu.Id;
        return TdxStatus.Success;
    }

    /// <summary>TDH.IOMMU.CLEAR: RCX = iommu_id; out RCX = the released HPA_ARRAY_T. Refused while a trusted-DMA entry uses it.</summary>
    private ulong IommuClear(ref TdxRegisters r)
    {
        ulong id = r.Rcx;
        var iommu = iommus.FirstOrDefault(i => i.Id == id);
        if (iommu is null) return TdxStatus.OperandInvalid | TdxStatus.OperandRcx;
        if (dmar.Any(e => e.Iommu == iommu)) return TdxStatus.IommuInvalidState;
        iommus.Remove(iommu);
        GivePages(iommu.Mt);
        r.Rcx = iommu.Mt;
        return TdxStatus.Success;
    }

    // ---- pages ----

    /// <summary>Decodes an HPA_ARRAY_T of at least <paramref name="minimum"/> pages and takes them all, or none.</summary>
    private ulong TakePages(ulong array, int minimum, out List<ulong> pages)
    {
        pages = [];
        if (!HpaArray.IsWellFormed(array) || !TryPages(array, pages) || pages.Count < minimum) return TdxStatus.OperandInvalid;
        if (pages.Distinct().Count() != pages.Count || pages.Any(ownedPages.Contains)) return TdxStatus.PageMetadataIncorrect;
        foreach (var p in pages) ownedPages.Add(p);
        return TdxStatus.Success;
    }

    private bool TryPages(ulong array, List<ulong> pages)
    {
        int n = HpaArray.Entries(array);
        ulong pa = HpaArray.Address(array);
        if (!Memory.TryPage(pa, out var page)) return false;
        if (n == 1) { pages.Add(pa); return true; }
        for (int i = 0; i < n; i++)
        {
            ulong p = BinaryPrimitives.ReadUInt64LittleEndian(page[(i * 8)..]);
            if ((p & 0xFFF) != 0 || !Memory.TryPage(p, out _)) return false;
            pages.Add(p);
        }
        return true;
    }

    private void GivePages(ulong array)
    {
        var pages = new List<ulong>();
        if (TryPages(array, pages)) foreach (var p in pages) ownedPages.Remove(p);
    }

    /// <summary>Writes <paramref name="bytes"/> to the pages of an output HPA_ARRAY_T; false when they do not fit.</summary>
    private bool WriteOut(ulong array, ReadOnlySpan<byte> bytes)
    {
        var pages = new List<ulong>();
        if (!HpaArray.IsWellFormed(array) || !TryPages(array, pages) || (long)pages.Count * 4096 < bytes.Length) return false;
        for (int i = 0; i * 4096 < bytes.Length; i++)
        {
            var chunk = bytes[(i * 4096)..Math.Min(bytes.Length, (i + 1) * 4096)];
            if (!Memory.Write(pages[i], chunk)) return false;
        }
        return true;
    }

    private byte[] Derive(string label, int length) =>
        HKDF.DeriveKey(HashAlgorithmName.SHA384, seed, length, salt: "tsmlab-tdx"u8.ToArray(), info: System.Text.Encoding.ASCII.GetBytes(label));

    private DeviceInterface? FindDevif(uint funcId, ulong tdr) => devifs.TryGetValue(funcId, out var d) && d.Td.Tdr == tdr ? d : null;
}
