using TsmLab.Abi;

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
/// A process's user address space: 4 KiB pages with a protection each. The kernel side copies
/// through <see cref="CopyFromUser"/> and <see cref="CopyToUser"/>, which fail with EFAULT exactly
/// where Linux's copy_from_user/copy_to_user would: any byte outside TASK_SIZE, unmapped, or
/// without the needed permission (PROT_WRITE for copy-out; PROT_READ for copy-in, as on arm64
/// with PAN and x86 with SMAP, where a PROT_NONE page faults). A copy-out that faults has written
/// every byte before the faulting page, as the byte-granular tail of copy_to_user does.
/// </summary>
public sealed class AddressSpace : IUserMemory
{
    public const int PageShift = 12;
    public const int PageSize = 1 << PageShift;
    /// <summary>x86-64 TASK_SIZE_MAX with 4-level paging (also inside arm64's 48-bit user range).</summary>
    public const ulong UserTop = 0x0000_7FFF_FFFF_F000;

    private sealed class Page
    {
        public readonly byte[] Data = new byte[PageSize];
        public Prot Prot;
    }

    private readonly Dictionary<ulong, Page> pages = new();
    private ulong cachedPfn = ulong.MaxValue;
    private Page? cachedPage;

    /// <summary>Number of mapped pages.</summary>
    public int MappedPages => pages.Count;

    /// <summary>
    /// mmap(addr, len, prot, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS): replaces whatever was
    /// mapped there with zeroed pages. EINVAL for an unaligned address or a zero length; ENOMEM
    /// for a range beyond TASK_SIZE.
    /// </summary>
    public int Map(ulong addr, ulong len, Prot prot)
    {
        if ((addr & (PageSize - 1)) != 0 || len == 0) return Errno.EINVAL.Neg();
        if (!TryPageRange(addr, len, out ulong first, out ulong count)) return Errno.ENOMEM.Neg();
        for (ulong i = 0; i < count; i++)
            pages[first + i] = new Page { Prot = prot };
        Invalidate();
        return 0;
    }

    /// <summary>mprotect: EINVAL for an unaligned address, ENOMEM when part of the range is unmapped (nothing changes then).</summary>
    public int Protect(ulong addr, ulong len, Prot prot)
    {
        if ((addr & (PageSize - 1)) != 0) return Errno.EINVAL.Neg();
        if (len == 0) return 0;
        if (!TryPageRange(addr, len, out ulong first, out ulong count)) return Errno.ENOMEM.Neg();
        for (ulong i = 0; i < count; i++)
            if (!pages.ContainsKey(first + i)) return Errno.ENOMEM.Neg();
        for (ulong i = 0; i < count; i++)
            pages[first + i].Prot = prot;
        return 0;
    }

    /// <summary>munmap: EINVAL for an unaligned address or zero length; unmapped holes are fine.</summary>
    public int Unmap(ulong addr, ulong len)
    {
        if ((addr & (PageSize - 1)) != 0 || len == 0) return Errno.EINVAL.Neg();
        if (!TryPageRange(addr, len, out ulong first, out ulong count)) return Errno.EINVAL.Neg();
        for (ulong i = 0; i < count; i++) pages.Remove(first + i);
        Invalidate();
        return 0;
    }

    /// <summary>copy_from_user: 0, or -EFAULT if any byte of the source cannot be read.</summary>
    public int CopyFromUser(Span<byte> destination, ulong source)
    {
        if (destination.IsEmpty) return 0;
        if (!InUserRange(source, (ulong)destination.Length)) return Errno.EFAULT.Neg();
        ulong addr = source;
        int done = 0;
        while (done < destination.Length)
        {
            var page = Lookup(addr >> PageShift);
            if (page is null || (page.Prot & Prot.Read) == 0) return Errno.EFAULT.Neg();
            int off = (int)(addr & (PageSize - 1));
            int n = Math.Min(PageSize - off, destination.Length - done);
            page.Data.AsSpan(off, n).CopyTo(destination[done..]);
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
        ulong addr = destination;
        int done = 0;
        while (done < source.Length)
        {
            var page = Lookup(addr >> PageShift);
            if (page is null || (page.Prot & Prot.Write) == 0) return Errno.EFAULT.Neg();
            int off = (int)(addr & (PageSize - 1));
            int n = Math.Min(PageSize - off, source.Length - done);
            source.Slice(done, n).CopyTo(page.Data.AsSpan(off, n));
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
        value = rc == 0 ? Le.U32(b, 0) : 0;
        return rc;
    }

    /// <summary>True when every byte of the range is mapped with at least <paramref name="need"/>.</summary>
    public bool IsAccessible(ulong addr, ulong len, Prot need)
    {
        if (len == 0) return true;
        if (!InUserRange(addr, len)) return false;
        ulong first = addr >> PageShift, last = (addr + len - 1) >> PageShift;
        for (ulong p = first; p <= last; p++)
        {
            var page = Lookup(p);
            if (page is null || (page.Prot & need) != need) return false;
        }
        return true;
    }

    private static bool InUserRange(ulong addr, ulong len) => len <= UserTop && addr <= UserTop - len;

    private static bool TryPageRange(ulong addr, ulong len, out ulong firstPfn, out ulong count)
    {
        firstPfn = addr >> PageShift;
        count = 0;
        if (len > UserTop || addr > UserTop - len) return false;
        ulong end = addr + len;
        ulong lastPfn = (end - 1) >> PageShift;
        count = lastPfn - firstPfn + 1;
        return true;
    }

    private Page? Lookup(ulong pfn)
    {
        if (pfn == cachedPfn) return cachedPage;
        pages.TryGetValue(pfn, out var page);
        cachedPfn = pfn;
        cachedPage = page;
        return page;
    }

    private void Invalidate()
    {
        cachedPfn = ulong.MaxValue;
        cachedPage = null;
    }
}
