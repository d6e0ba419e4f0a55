namespace TsmLab.Hardware;

/// <summary>
/// A map from page-aligned addresses (4 KiB pages) to one entry each, kept the way a last-level
/// translation table keeps them: in blocks of 512 entries (one block covers 2 MiB, as one level-3
/// RTT, page table or RMP segment does), a block allocated when its first entry is set and dropped
/// when its last is cleared. Firmware models (the RMM's device RTT, the RMP) and host drivers (what
/// they mapped) use it instead of one dictionary entry per page: a 16 MiB BAR is 8 blocks, not
/// 4096 heap entries. TsmLab definition (an implementation choice; the semantics are a dictionary's).
/// Not thread-safe: the owner's lock guards it, as it guards the owner's other state.
/// </summary>
/// <typeparam name="T">The entry (a small struct).</typeparam>
public sealed class SparsePageMap<T> where T : struct
{
    private const int PageShift = 12, BlockShift = 9, BlockEntries = 1 << BlockShift, BlockMask = BlockEntries - 1;

    private sealed class Block
    {
        public readonly T[] Entries = new T[BlockEntries];
        public readonly ulong[] Present = new ulong[BlockEntries / 64];
        public int Count;
    }

    private readonly Dictionary<ulong, Block> blocks = [];
    private ulong lastIndex = ulong.MaxValue;
    private Block? lastBlock;

    /// <summary>Entries set.</summary>
    public int Count { get; private set; }

    /// <summary>The entry of the page at <paramref name="address"/> (any address inside the page), or false.</summary>
    public bool TryGetValue(ulong address, out T value)
    {
        ulong pfn = address >> PageShift;
        if (Find(pfn >> BlockShift) is { } b && IsSet(b, (int)(pfn & BlockMask)))
        {
            value = b.Entries[pfn & BlockMask];
            return true;
        }
        value = default;
        return false;
    }

    /// <summary>True when the page at <paramref name="address"/> has an entry.</summary>
    public bool ContainsKey(ulong address) => TryGetValue(address, out _);

    /// <summary>Sets (adds or replaces) the entry of the page at <paramref name="address"/>.</summary>
    public void Set(ulong address, T value)
    {
        ulong pfn = address >> PageShift;
        ulong index = pfn >> BlockShift;
        var b = Find(index);
        if (b is null)
        {
            b = new Block();
            blocks.Add(index, b);
            lastIndex = index;
            lastBlock = b;
        }
        int i = (int)(pfn & BlockMask);
        if (!IsSet(b, i))
        {
            b.Present[i >> 6] |= 1UL << i;
            b.Count++;
            Count++;
        }
        b.Entries[i] = value;
    }

    /// <summary>Clears the entry of the page at <paramref name="address"/>; false when it had none.</summary>
    public bool Remove(ulong address)
    {
        ulong pfn = address >> PageShift;
        ulong index = pfn >> BlockShift;
        if (Find(index) is not { } b) return false;
        int i = (int)(pfn & BlockMask);
        if (!IsSet(b, i)) return false;
        b.Present[i >> 6] &= ~(1UL << i);
        b.Entries[i] = default;
        Count--;
        if (--b.Count == 0)
        {
            blocks.Remove(index);
            lastIndex = ulong.MaxValue;
            lastBlock = null;
        }
        return true;
    }

    /// <summary>Drops every entry.</summary>
    public void Clear()
    {
        blocks.Clear();
        lastIndex = ulong.MaxValue;
        lastBlock = null;
        Count = 0;
    }

    /// <summary>Every (page address, entry), in no particular order (a snapshot: the map may be changed while walking it).</summary>
    public List<(ulong Address, T Value)> Entries()
    {
        var list = new List<(ulong, T)>(Count);
        foreach (var (index, b) in blocks)
            for (int i = 0; i < BlockEntries; i++)
                if (IsSet(b, i)) list.Add((((index << BlockShift) | (uint)i) << PageShift, b.Entries[i]));
        return list;
    }

    /// <summary>The lowest and highest page address with an entry; false when empty.</summary>
    public bool TryGetBounds(out ulong lowest, out ulong highest)
    {
        lowest = ulong.MaxValue;
        highest = 0;
        foreach (var (index, b) in blocks)
            for (int i = 0; i < BlockEntries; i++)
                if (IsSet(b, i))
                {
                    ulong a = ((index << BlockShift) | (uint)i) << PageShift;
                    lowest = Math.Min(lowest, a);
                    highest = Math.Max(highest, a);
                }
        return Count > 0;
    }

    private Block? Find(ulong index)
    {
        if (index == lastIndex) return lastBlock;
        if (!blocks.TryGetValue(index, out var b)) return null;
        lastIndex = index;
        lastBlock = b;
        return b;
    }

    private static bool IsSet(Block b, int i) => (b.Present[i >> 6] & (1UL << i)) != 0;
}
