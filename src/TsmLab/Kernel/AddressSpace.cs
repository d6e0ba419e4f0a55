using TsmLab.Abi;
using System.Buffers.Binary;

namespace TsmLab.Kernel;

/// <summary>Page protection of a user mapping (PROT_READ, PROT_WRITE; PROT_NONE is neither).</summary>
[Flags]
public enum Prot
{
    None = 0,
    Read = 1,
    Write = 2,
    ReadWrite = Read | Write,
}

/// <summary>
/// A process's user address space: mappings of 4 KiB pages with a protection each. The kernel side
/// copies through <see cref="CopyFromUser"/> and <see cref="CopyToUser"/>, which fail with EFAULT
/// exactly where Linux's copy_from_user/copy_to_user would: any byte outside TASK_SIZE, unmapped,
/// or without the needed permission (PROT_WRITE for copy-out; PROT_READ for copy-in, as on arm64
/// with PAN and x86 with SMAP, where a PROT_NONE page faults). A copy-out that faults has written
/// every byte before the faulting page, as the byte-granular tail of copy_to_user does.
/// <para>
/// Sparse, as an anonymous mapping is: the mappings are a sorted list of page ranges (VMAs, split
/// and merged like Linux's), and a page's memory exists only once something is written to it
/// (reading an untouched page reads zeroes). An mmap of 1 TiB costs one range; munmap drops the
/// range and only the pages that were touched. At most <see cref="MaxMapCount"/> ranges (ENOMEM
/// beyond: an operation that could split a mapping is refused when fewer than two
/// are left, as Linux refuses past vm.max_map_count).
/// </para>
/// <para>
/// Thread-safe. One lock (the model's mmap_lock) serialises mmap, munmap and mprotect and guards
/// the ranges; each change publishes an immutable copy of the ranges. Copies take no lock, as
/// Linux's copy_from_user/copy_to_user take none: a copy reads one published copy of the ranges,
/// so it never sees a half-done mmap, munmap or mprotect, and reaches the pages through a
/// concurrent map (a page is created once, by whichever copy writes it first). As on Linux,
/// copies on different threads are not atomic with respect to each other: a copy_from_user
/// racing a copy_to_user of the same bytes may see some bytes of each, and a copy racing a
/// munmap of its range may complete on the old mapping. So threads of one VMM copying requests
/// in and answers out never wait for each other here.
/// </para>
/// </summary>
public sealed class AddressSpace : IUserMemory
{
    public const int PageShift = 12;
    public const int PageSize = 1 << PageShift;
    /// <summary>x86-64 TASK_SIZE_MAX with 4-level paging (also inside arm64's 48-bit user range).</summary>
    public const ulong UserTop = 0x0000_7FFF_FFFF_F000;
    /// <summary>vm.max_map_count's default: the most mappings a process may have.</summary>
    public const int MaxMapCount = 65530;

    /// <summary>A mapping: pages [First, End) with one protection.</summary>
    private record struct Vma(ulong First, ulong End, Prot Prot);

    /// <summary>The ranges, sorted; changed only under <see cref="mmapLock"/>.</summary>
    private readonly List<Vma> vmas = new();
    /// <summary>An immutable copy of <see cref="vmas"/>, published after every change: what copies read.</summary>
    private Vma[] published = [];
    /// <summary>The touched pages by page number (read without a lock; removed only under <see cref="mmapLock"/>).</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<ulong, byte[]> pages = new();
    /// <summary>mmap_lock: serialises mmap, munmap and mprotect (the ranges and the dropping of pages).</summary>
    private readonly Lock mmapLock = new();

    /// <summary>Number of mapped pages (whether touched or not).</summary>
    public long MappedPages
    {
        get
        {
            lock (mmapLock)
            {
                long n = 0;
                foreach (var v in vmas) n += (long)(v.End - v.First);
                return n;
            }
        }
    }

    /// <summary>Number of pages that hold memory (written at least once since mapped).</summary>
    public int ResidentPages => pages.Count;

    /// <summary>Number of mappings (VMAs) after splits and merges.</summary>
    public int MappingCount
    {
        get { lock (mmapLock) return vmas.Count; }
    }

    /// <summary>
    /// mmap(addr, len, prot, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS): replaces whatever was
    /// mapped there with zeroed pages. EINVAL for an unaligned address or a zero length; ENOMEM
    /// for a range beyond TASK_SIZE or past the mapping count limit.
    /// </summary>
    public int Map(ulong addr, ulong len, Prot prot)
    {
        if ((addr & (PageSize - 1)) != 0 || len == 0) return Errno.EINVAL.Neg();
        if (!TryPageRange(addr, len, out ulong first, out ulong end)) return Errno.ENOMEM.Neg();
        lock (mmapLock)
        {
            if (vmas.Count + 2 > MaxMapCount) return Errno.ENOMEM.Neg();
            RemoveRange(first, end);
            Insert(new Vma(first, end, prot));
            Invalidate();
            return 0;
        }
    }

    /// <summary>mprotect: EINVAL for an unaligned address, ENOMEM when part of the range is unmapped (nothing changes then).</summary>
    public int Protect(ulong addr, ulong len, Prot prot)
    {
        if ((addr & (PageSize - 1)) != 0) return Errno.EINVAL.Neg();
        if (len == 0) return 0;
        if (!TryPageRange(addr, len, out ulong first, out ulong end)) return Errno.ENOMEM.Neg();
        lock (mmapLock)
        {
            // Every page must be mapped: the ranges that overlap must cover [first, end) without a hole.
            int i = FirstOverlapping(first);
            ulong next = first;
            for (int j = i; j < vmas.Count && vmas[j].First < end; j++)
            {
                if (vmas[j].First > next) return Errno.ENOMEM.Neg();
                next = vmas[j].End;
            }
            if (next < end) return Errno.ENOMEM.Neg();
            if (vmas.Count + 2 > MaxMapCount) return Errno.ENOMEM.Neg();
            Split(first);
            Split(end);
            for (int j = FirstOverlapping(first); j < vmas.Count && vmas[j].First < end; j++)
                vmas[j] = vmas[j] with { Prot = prot };
            MergeAround(first, end);
            Invalidate();
            return 0;
        }
    }

    /// <summary>munmap: EINVAL for an unaligned address or zero length; unmapped holes are fine.</summary>
    public int Unmap(ulong addr, ulong len)
    {
        if ((addr & (PageSize - 1)) != 0 || len == 0) return Errno.EINVAL.Neg();
        if (!TryPageRange(addr, len, out ulong first, out ulong end)) return Errno.EINVAL.Neg();
        lock (mmapLock)
        {
            if (vmas.Count + 1 > MaxMapCount) return Errno.ENOMEM.Neg();
            RemoveRange(first, end);
            Invalidate();
            return 0;
        }
    }

    /// <summary>copy_from_user: 0, or -EFAULT if any byte of the source cannot be read.</summary>
    public int CopyFromUser(Span<byte> destination, ulong source)
    {
        if (destination.IsEmpty) return 0;
        if (!InUserRange(source, (ulong)destination.Length)) return Errno.EFAULT.Neg();
        if (Faults.FaultPlan.Fail(Faults.FaultPoint.MemoryCopy, "copy_from_user")) return Errno.EFAULT.Neg();
        var map = Volatile.Read(ref published);
        int hint = -1;
        ulong addr = source;
        int done = 0;
        while (done < destination.Length)
        {
            ulong pfn = addr >> PageShift;
            if ((ProtOf(map, pfn, ref hint) & Prot.Read) == 0) return Errno.EFAULT.Neg();
            int off = (int)(addr & (PageSize - 1));
            int n = Math.Min(PageSize - off, destination.Length - done);
            if (pages.TryGetValue(pfn, out var page)) page.AsSpan(off, n).CopyTo(destination[done..]);
            else destination.Slice(done, n).Clear();
            done += n;
            addr += (ulong)n;
        }
        return 0;
    }

    /// <summary>
    /// copy_to_user: 0, or -EFAULT at the first page that cannot be written (bytes before it are
    /// written, as Linux's copy leaves them).
    /// </summary>
    public int CopyToUser(ulong destination, ReadOnlySpan<byte> source)
    {
        if (source.IsEmpty) return 0;
        if (!InUserRange(destination, (ulong)source.Length)) return Errno.EFAULT.Neg();
        if (Faults.FaultPlan.Fail(Faults.FaultPoint.MemoryCopy, "copy_to_user")) return Errno.EFAULT.Neg();
        var map = Volatile.Read(ref published);
        int hint = -1;
        ulong addr = destination;
        int done = 0;
        while (done < source.Length)
        {
            ulong pfn = addr >> PageShift;
            if ((ProtOf(map, pfn, ref hint) & Prot.Write) == 0) return Errno.EFAULT.Neg();
            int off = (int)(addr & (PageSize - 1));
            int n = Math.Min(PageSize - off, source.Length - done);
            // Zeroes into an untouched page change nothing it reads back (clear_user of a large
            // buffer must not allocate its pages here).
            var chunk = source.Slice(done, n);
            if (!pages.TryGetValue(pfn, out var page))
            {
                if (!chunk.ContainsAnyExcept((byte)0)) { done += n; addr += (ulong)n; continue; }
                page = pages.GetOrAdd(pfn, static _ => new byte[PageSize]);
            }
            chunk.CopyTo(page.AsSpan(off, n));
            done += n;
            addr += (ulong)n;
        }
        return 0;
    }

    /// <summary>get_user of a u32.</summary>
    public int GetUser32(ulong addr, out uint value)
    {
        Span<byte> b = stackalloc byte[4];
        int rc = CopyFromUser(b, addr);
        value = rc == 0 ? BinaryPrimitives.ReadUInt32LittleEndian(b) : 0;
        return rc;
    }

    /// <summary>True when every byte of the range is mapped with at least <paramref name="need"/>.</summary>
    public bool IsAccessible(ulong addr, ulong len, Prot need)
    {
        if (len == 0) return true;
        if (!InUserRange(addr, len)) return false;
        ulong first = addr >> PageShift, end = ((addr + len - 1) >> PageShift) + 1;
        lock (mmapLock)
        {
            ulong next = first;
            for (int j = FirstOverlapping(first); j < vmas.Count && vmas[j].First < end; j++)
            {
                if (vmas[j].First > next || (vmas[j].Prot & need) != need) return false;
                next = vmas[j].End;
            }
            return next >= end;
        }
    }

    /// <summary>pin_user_pages as a check: 0, or -EFAULT for an unmapped page or one without the access.</summary>
    public int CheckPinnable(ulong addr, ulong length, bool write) =>
        IsAccessible(addr, length, write ? Prot.Write : Prot.Read) ? 0 : Errno.EFAULT.Neg();

    private static bool InUserRange(ulong addr, ulong len) => len <= UserTop && addr <= UserTop - len;

    /// <summary>The pages [first, end) of a byte range inside TASK_SIZE; false beyond it.</summary>
    private static bool TryPageRange(ulong addr, ulong len, out ulong first, out ulong end)
    {
        first = addr >> PageShift;
        end = first;
        if (len > UserTop || addr > UserTop - len) return false;
        end = ((addr + len - 1) >> PageShift) + 1;
        return true;
    }

    /// <summary>Index of the first mapping whose end is above <paramref name="pfn"/> (it may start above it too).</summary>
    private int FirstOverlapping(ulong pfn)
    {
        int lo = 0, hi = vmas.Count;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (vmas[mid].End <= pfn) lo = mid + 1; else hi = mid;
        }
        return lo;
    }

    /// <summary>The protection of a page in a published copy of the ranges, or None (fault) when unmapped; <paramref name="hint"/> is the range the last page of this copy was in.</summary>
    private static Prot ProtOf(Vma[] map, ulong pfn, ref int hint)
    {
        if (hint >= 0 && map[hint].First <= pfn && pfn < map[hint].End) return map[hint].Prot;
        int lo = 0, hi = map.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (map[mid].End <= pfn) lo = mid + 1; else hi = mid;
        }
        if (lo < map.Length && map[lo].First <= pfn)
        {
            hint = lo;
            return map[lo].Prot;
        }
        return Prot.None;
    }

    /// <summary>Drops the mappings and the pages of [first, end). Caller holds the lock.</summary>
    private void RemoveRange(ulong first, ulong end)
    {
        Split(first);
        Split(end);
        int i = FirstOverlapping(first);
        int j = i;
        while (j < vmas.Count && vmas[j].First < end) j++;
        if (j > i) vmas.RemoveRange(i, j - i);
        DropPages(first, end);
    }

    /// <summary>Frees the touched pages of [first, end): by walking the range or the pages, whichever is smaller.</summary>
    private void DropPages(ulong first, ulong end)
    {
        if (pages.IsEmpty) return;
        if (end - first <= 4096)
        {
            for (ulong p = first; p < end; p++) pages.TryRemove(p, out _);
            return;
        }
        foreach (var pfn in pages.Keys)
            if (pfn >= first && pfn < end) pages.TryRemove(pfn, out _);
    }

    /// <summary>Splits the mapping that contains page <paramref name="at"/> (not at its start) in two.</summary>
    private void Split(ulong at)
    {
        int i = FirstOverlapping(at);
        if (i >= vmas.Count || vmas[i].First >= at) return;
        var v = vmas[i];
        vmas[i] = v with { End = at };
        vmas.Insert(i + 1, v with { First = at });
    }

    /// <summary>Inserts a mapping into a hole, merging with neighbours of the same protection.</summary>
    private void Insert(Vma v)
    {
        int i = FirstOverlapping(v.First);
        vmas.Insert(i, v);
        MergeAround(v.First, v.End);
    }

    /// <summary>Merges touching mappings with equal protection from just before <paramref name="first"/> to just after <paramref name="end"/>.</summary>
    private void MergeAround(ulong first, ulong end)
    {
        int i = Math.Max(0, FirstOverlapping(first) - 1);
        while (i + 1 < vmas.Count && vmas[i].First <= end)
        {
            if (vmas[i].End == vmas[i + 1].First && vmas[i].Prot == vmas[i + 1].Prot)
            {
                vmas[i] = vmas[i] with { End = vmas[i + 1].End };
                vmas.RemoveAt(i + 1);
            }
            else i++;
        }
    }

    /// <summary>Publishes the ranges for lock-free copies (called under the lock after every change).</summary>
    private void Invalidate() => Volatile.Write(ref published, vmas.ToArray());
}
