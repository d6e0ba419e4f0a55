using System.Buffers.Binary;

namespace TsmLab.Kernel.Pci;

/// <summary>
/// A function's 4 KiB PCI Express configuration space as the host reads and writes it: the
/// type-0 header (IDs, Command, BARs, Capabilities Pointer), the PCI Express capability, and
/// extended capabilities from 0x100 (SR-IOV on a PF that has VFs, DOE on the DSM) [P1]. BARs
/// behave as hardware BARs do: the address bits below the BAR's size are hard-wired to zero, so
/// writing all ones and reading back gives the size (the probe Linux's <c>__pci_read_base</c>
/// does). Every write is also reported to the device through <see cref="Written"/> (TDISP moves a
/// locked TDI to ERROR on a write to a locked register). Thread safety: one lock guards the bytes.
/// </summary>
public sealed class PciConfigSpace
{
    /// <summary>Size of a PCI Express function's configuration space.</summary>
    public const int Size = 4096;
    public const int VendorIdOffset = 0x00, DeviceIdOffset = 0x02, CommandOffset = 0x04, StatusOffset = 0x06,
        ClassCodeOffset = 0x09, HeaderTypeOffset = 0x0E, Bar0Offset = 0x10, CapabilitiesPointerOffset = 0x34, ExtendedCapabilitiesOffset = 0x100;
    /// <summary>Status bit 4: the function has a capability list.</summary>
    public const ushort StatusCapabilitiesList = 1 << 4;
    /// <summary>Capability ID of the PCI Express capability.</summary>
    public const byte PciExpressCapabilityId = 0x10;
    /// <summary>Extended capability IDs: SR-IOV (0x0010) and Data Object Exchange (0x002E).</summary>
    public const ushort SriovExtendedCapabilityId = 0x0010, DoeExtendedCapabilityId = 0x002E;
    /// <summary>Offsets inside the SR-IOV extended capability.</summary>
    public const int SriovTotalVfs = 0x0E, SriovNumVfs = 0x10, SriovFirstVfOffset = 0x14, SriovVfStride = 0x16, SriovVfDeviceId = 0x1A, SriovVfBar0 = 0x24, SriovSize = 0x40;
    /// <summary>Size of the DOE extended capability (header, capabilities, control, status, write and read mailboxes).</summary>
    public const int DoeSize = 0x18;

    private readonly byte[] bytes = new byte[Size];
    /// <summary>Per DWORD: the bits software may write (BAR address bits above the size, Command).</summary>
    private readonly uint[] writable = new uint[Size / 4];
    private readonly Lock gate = new();

    /// <summary>Called after every write with its offset and length (the device observes config writes).</summary>
    public Action<int, int>? Written { get; set; }

    /// <summary>
    /// The device's reaction to Initiate Function Level Reset (PCI Express Device Control bit 15, at
    /// capability + 0x08; the bit always reads 0); null for a function without FLR.
    /// </summary>
    public Action? FunctionLevelReset { get; set; }

    /// <summary>Sets Initiate FLR in the PCI Express capability's Device Control; false when the function has no PCIe capability or no FLR.</summary>
    public bool InitiateFunctionLevelReset()
    {
        if (FindCapability(PciExpressCapabilityId) == 0 || FunctionLevelReset is not { } reset) return false;
        reset();
        return true;
    }

    /// <summary>Reads a little-endian value of 1, 2 or 4 bytes; all ones outside the space, as a master abort reads.</summary>
    public uint Read(int offset, int length)
    {
        if (!InRange(offset, length)) return length == 4 ? uint.MaxValue : (1u << (8 * length)) - 1;
        lock (gate)
        {
            return length switch
            {
                1 => bytes[offset],
                2 => BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(offset)),
                _ => BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(offset)),
            };
        }
    }

    public ushort Read16(int offset) => (ushort)Read(offset, 2);
    public uint Read32(int offset) => Read(offset, 4);

    /// <summary>Writes a value of 1, 2 or 4 naturally aligned bytes; only writable bits change. Ignored outside the space.</summary>
    public void Write(int offset, int length, uint value)
    {
        if (!InRange(offset, length)) return;
        lock (gate)
        {
            int dword = offset & ~3, shift = (offset & 3) * 8;
            uint laneMask = (length == 4 ? uint.MaxValue : (1u << (8 * length)) - 1) << shift;
            uint mask = writable[dword / 4] & laneMask;
            uint old = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(dword));
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(dword), (old & ~mask) | ((value << shift) & mask));
        }
        Written?.Invoke(offset, length);
    }

    public void Write32(int offset, uint value) => Write(offset, 4, value);

    private static bool InRange(int offset, int length) =>
        length is 1 or 2 or 4 && offset >= 0 && offset <= Size - length && (offset & (length - 1)) == 0;

    /// <summary>The offset of the first standard capability with <paramref name="id"/>, or 0.</summary>
    public int FindCapability(byte id)
    {
        if ((Read16(StatusOffset) & StatusCapabilitiesList) == 0) return 0;
        int at = (byte)Read(CapabilitiesPointerOffset, 1) & ~3;
        for (int guard = 0; at >= 0x40 && guard < 48; guard++)
        {
            if ((byte)Read(at, 1) == id) return at;
            at = (byte)Read(at + 1, 1) & ~3;
        }
        return 0;
    }

    /// <summary>The offset of the first extended capability with <paramref name="id"/>, or 0 (the walk Linux's pci_find_ext_capability does).</summary>
    public int FindExtendedCapability(ushort id)
    {
        int at = ExtendedCapabilitiesOffset;
        for (int guard = 0; at >= ExtendedCapabilitiesOffset && at <= Size - 4 && guard < (Size - ExtendedCapabilitiesOffset) / 8; guard++)
        {
            uint header = Read32(at);
            if (header == 0 || header == uint.MaxValue) return 0;
            if ((header & 0xFFFF) == id) return at;
            at = (int)(header >> 20) & ~3;
        }
        return 0;
    }

    // ---- building (the device side) ----

    /// <summary>
    /// Builds an endpoint's configuration space: IDs, class code, the PCI Express capability at
    /// 0x40, its memory BARs (sized and placed), and the extended capabilities asked for.
    /// </summary>
    public static PciConfigSpace Endpoint(ushort vendorId, ushort deviceId, uint classCode, IReadOnlyList<PciBarSpec> bars, PciSriovSpec? sriov = null, bool doe = false)
    {
        var c = new PciConfigSpace();
        var b = c.bytes.AsSpan();
        BinaryPrimitives.WriteUInt16LittleEndian(b[VendorIdOffset..], vendorId);
        BinaryPrimitives.WriteUInt16LittleEndian(b[DeviceIdOffset..], deviceId);
        BinaryPrimitives.WriteUInt16LittleEndian(b[StatusOffset..], StatusCapabilitiesList);
        b[ClassCodeOffset] = (byte)classCode;
        b[ClassCodeOffset + 1] = (byte)(classCode >> 8);
        b[ClassCodeOffset + 2] = (byte)(classCode >> 16);
        b[HeaderTypeOffset] = 0;
        c.writable[CommandOffset / 4] = 0x0000_0547; // I/O, memory, bus master, parity, SERR, INTx disable
        c.PlaceBars(Bar0Offset, bars);
        b[CapabilitiesPointerOffset] = 0x40;
        b[0x40] = PciExpressCapabilityId;
        b[0x41] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(b[0x42..], 0x0002); // version 2, device/port type 0 (PCI Express endpoint)
        var ext = new List<(ushort Id, int Size, Action<int> Fill)>();
        if (sriov is { } s)
            ext.Add((SriovExtendedCapabilityId, SriovSize, (Action<int>)(at =>
            {
                var b = c.bytes.AsSpan();
                BinaryPrimitives.WriteUInt16LittleEndian(b[(at + 0x0C)..], s.TotalVfs); // InitialVFs
                BinaryPrimitives.WriteUInt16LittleEndian(b[(at + SriovTotalVfs)..], s.TotalVfs);
                BinaryPrimitives.WriteUInt16LittleEndian(b[(at + SriovNumVfs)..], s.TotalVfs);
                BinaryPrimitives.WriteUInt16LittleEndian(b[(at + SriovFirstVfOffset)..], s.FirstVfOffset);
                BinaryPrimitives.WriteUInt16LittleEndian(b[(at + SriovVfStride)..], s.VfStride);
                BinaryPrimitives.WriteUInt16LittleEndian(b[(at + SriovVfDeviceId)..], s.VfDeviceId);
                BinaryPrimitives.WriteUInt32LittleEndian(b[(at + 0x1C)..], 0x553); // supported page sizes
                BinaryPrimitives.WriteUInt32LittleEndian(b[(at + 0x20)..], 1);     // system page size 4 KiB
                c.PlaceBars(at + SriovVfBar0, s.VfBars);
            })));
        if (doe)
            ext.Add((DoeExtendedCapabilityId, DoeSize, static _ => { }));
        int offset = ExtendedCapabilitiesOffset;
        for (int i = 0; i < ext.Count; i++)
        {
            int next = i + 1 < ext.Count ? offset + ((ext[i].Size + 7) & ~7) : 0;
            BinaryPrimitives.WriteUInt32LittleEndian(b[offset..], ext[i].Id | (1u << 16) | ((uint)next << 20));
            ext[i].Fill(offset);
            offset = next;
        }
        return c;
    }

    /// <summary>A function with no capabilities beyond IDs (a host bridge, or a test function).</summary>
    public static PciConfigSpace Minimal(ushort vendorId, ushort deviceId) => Endpoint(vendorId, deviceId, 0, []);

    private void PlaceBars(int bar0, IReadOnlyList<PciBarSpec> bars)
    {
        foreach (var bar in bars)
        {
            if (bar.Index is < 0 or > 5 || (bar.Is64Bit && bar.Index == 5))
                throw new ArgumentException($"BAR index {bar.Index} cannot hold a {(bar.Is64Bit ? 64 : 32)}-bit BAR");
            if (bar.Size < 16 || !ulong.IsPow2(bar.Size) || (bar.Address & (bar.Size - 1)) != 0 || (!bar.Is64Bit && (bar.Size > 1UL << 31 || bar.Address + bar.Size > 1UL << 32)))
                throw new ArgumentException($"BAR {bar.Index}: size 0x{bar.Size:x} at 0x{bar.Address:x} is not a power of two of at least 16 bytes, aligned and within its width");
            int at = bar0 + 4 * bar.Index;
            uint flags = (bar.Is64Bit ? 0x4u : 0u) | (bar.Prefetchable ? 0x8u : 0u);
            ulong sizeMask = ~(bar.Size - 1);
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(at), (uint)bar.Address | flags);
            writable[at / 4] = (uint)sizeMask & 0xFFFF_FFF0u;
            if (bar.Is64Bit)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(at + 4), (uint)(bar.Address >> 32));
                writable[(at + 4) / 4] = (uint)(sizeMask >> 32);
            }
        }
    }
}

/// <summary>A memory BAR as the device implements it: its register index, address, size (a power of two) and type.</summary>
public readonly record struct PciBarSpec(int Index, ulong Address, ulong Size, bool Is64Bit, bool Prefetchable);

/// <summary>What a PF's SR-IOV capability holds: VF count, routing-ID offset and stride, VF device ID, and the VF BARs (VF0's addresses; VF n sits n sizes above).</summary>
public sealed record PciSriovSpec(ushort TotalVfs, ushort FirstVfOffset, ushort VfStride, ushort VfDeviceId, IReadOnlyList<PciBarSpec> VfBars);
