using TsmLab.Abi;

namespace TsmLab.Kernel.Iommufd;

/// <summary>A slice of an <see cref="IoptPages"/> about to become an area (<c>struct iopt_pages_list</c>).</summary>
/// <summary>One access pin over part of an area: the pages' index range it holds.</summary>
internal readonly record struct AccessPin(IoptArea Area, ulong First, ulong Last);

/// <summary>
/// What an io_pagetable needs of an access attached to it (<c>iopt->access_list</c>): its IOVA
/// alignment and its unmap notification. Implemented by <see cref="IommufdAccess"/>.
/// </summary>
internal interface IIoasAccess
{
    ulong IovaAlignment { get; }

    /// <summary>The range is being unmapped: the access must drop its pins there before returning.</summary>
    void NotifyUnmap(ulong iova, ulong length);
}

internal readonly record struct PagesSlice(IoptPages Pages, ulong StartByte, ulong Length);

/// <summary>A reserved IOVA interval and who reserved it (a domain's aperture, a device's regions).</summary>
internal readonly record struct IovaReservation(ulong Start, ulong Last, object Owner);

/// <summary>
/// The IOVA space of an IOAS (<c>struct io_pagetable</c>, drivers/iommu/iommufd/io_pagetable.c
/// [LI4]): its areas (the mappings), the reserved intervals (domain apertures, devices' reserved
/// regions), the allowed intervals userspace set, the IOMMU domains attached and the IOVA
/// alignment they impose. Areas are a list sorted by IOVA with binary-search lookups, one object
/// per mapping whatever its length. The pages of every area are pinned while at least one domain
/// is attached (<see cref="IoptPages"/>); with none, a map is only a lazy reference, as in Linux,
/// so a bad user VA faults when a domain arrives, not at IOAS_MAP.
/// <para>
/// Thread safety: <see cref="Gate"/> stands for <c>iova_rwsem</c> and <c>domains_rwsem</c> together
/// and guards everything here; lock order: the iommufd context's lock, then this, then an
/// <see cref="IoptPages"/>' lock, then the owner's mmap lock.
/// </para>
/// </summary>
public sealed class IoPagetable
{
    public const ulong PageSize = AddressSpace.PageSize;
    private const ulong Max = ulong.MaxValue;

    private readonly List<IoptArea> areas = new();
    private readonly List<IovaReservation> reserved = new();
    private readonly List<(ulong Start, ulong Last)> allowed = new();
    private readonly List<(object Domain, ulong PageSize)> domains = new();
    private readonly List<IIoasAccess> accesses = new();

    internal Lock Gate { get; } = new();

    /// <summary><c>iova_alignment</c>: 1 with no domain (software table), the IOMMU page size with one.</summary>
    public ulong IovaAlignment { get; private set; } = 1;

    /// <summary><c>disable_large_pages</c> (IOMMU_OPTION_HUGE_PAGES 0).</summary>
    public bool LargePagesDisabled { get; private set; }

    /// <summary>The areas, by IOVA (a snapshot).</summary>
    public IReadOnlyList<IoptArea> Areas
    {
        get { lock (Gate) return areas.ToArray(); }
    }

    /// <summary>Domains attached.</summary>
    public int DomainCount
    {
        get { lock (Gate) return domains.Count; }
    }

    /// <summary>The reserved intervals (a snapshot), for the mock driver and <c>tsmlab info</c>.</summary>
    internal IReadOnlyList<IovaReservation> Reserved
    {
        get { lock (Gate) return reserved.ToArray(); }
    }

    /// <summary>The area containing <paramref name="iova"/>, or null.</summary>
    public IoptArea? Find(ulong iova)
    {
        lock (Gate)
        {
            int i = FirstEndingAtOrAfter(iova);
            return i < areas.Count && areas[i].Iova <= iova ? areas[i] : null;
        }
    }

    /// <summary>
    /// <c>iopt_map_pages</c>: places <paramref name="slices"/> (total <paramref name="length"/>) at
    /// <paramref name="iova"/> or at an allocated IOVA, pins them when a domain is attached, and
    /// takes a reference on each slice's pages. EINVAL (length 0 or unaligned, IOVA unaligned or
    /// over a reserved interval, a slice's page offset unaligned), EOVERFLOW, ENOSPC, EEXIST (IOVA
    /// in use), EPERM (writable map of read-only pages), EFAULT/ENOMEM from pinning.
    /// </summary>
    internal int Map(IReadOnlyList<PagesSlice> slices, ulong length, ref ulong iova, bool allocate, bool readable, bool writable)
    {
        lock (Gate)
        {
            if ((length & (IovaAlignment - 1)) != 0 || length == 0) return Errno.EINVAL.Neg();
            int rc = allocate ? AllocIova(out iova, slices[0].Pages.Source.Base + slices[0].StartByte, length) : CheckIova(iova, length);
            if (rc < 0) return rc;

            var made = new List<IoptArea>(slices.Count);
            ulong at = iova;
            foreach (var s in slices)
            {
                if (writable && !s.Pages.Writable) return Errno.EPERM.Neg();
                if (((s.StartByte % PageSize) & (IovaAlignment - 1)) != 0) return Errno.EINVAL.Neg();
                if (s.Length == 0 || Max - at < s.Length - 1) return Errno.EOVERFLOW.Neg();
                made.Add(new IoptArea(at, at + (s.Length - 1), s.Pages, s.StartByte, readable, writable));
                at += s.Length;
            }
            if (domains.Count > 0)
            {
                for (int i = 0; i < made.Count; i++)
                {
                    rc = made[i].Pages.Fill(made[i].FirstIndex, made[i].LastIndex);
                    if (rc < 0)
                    {
                        for (int j = 0; j < i; j++) made[j].Pages.Unfill(made[j].FirstIndex, made[j].LastIndex);
                        return rc;
                    }
                    made[i].Filled = true;
                }
            }
            foreach (var a in made)
            {
                a.Pages.Get();
                areas.Insert(FirstEndingAtOrAfter(a.Iova), a);
            }
            return 0;
        }
    }

    /// <summary>
    /// <c>iopt_unmap_iova</c>: removes every area inside [iova, iova + length - 1], lowest first.
    /// EINVAL for length 0, EOVERFLOW, ENOENT when an area reaches outside the range (splitting is
    /// not allowed; areas before it stay unmapped). Nothing mapped there is success with 0 bytes
    /// (<c>iopt_unmap_iova_range</c>); IOMMU_IOAS_UNMAP turns that into ENOENT, VFIO's UNMAP_DMA does not.
    /// </summary>
    internal int Unmap(ulong iova, ulong length, out ulong unmapped)
    {
        unmapped = 0;
        if (length == 0) return Errno.EINVAL.Neg();
        if (Max - iova < length - 1) return Errno.EOVERFLOW.Neg();
        return UnmapRange(iova, iova + (length - 1), out unmapped);
    }

    /// <summary><c>iopt_unmap_all</c>: every area; an empty IOAS is not an error.</summary>
    internal int UnmapAll(out ulong unmapped)
    {
        int rc = UnmapRange(0, Max, out unmapped);
        return rc == Errno.ENOENT.Neg() ? 0 : rc;
    }

    private int UnmapRange(ulong start, ulong last, out ulong unmapped)
    {
        unmapped = 0;
        int tries = 0;
        ulong lastBusy = ulong.MaxValue;
        while (true)
        {
            ulong busyIova, busyLength;
            lock (Gate)
            {
                while (true)
                {
                    int i = FirstEndingAtOrAfter(start);
                    if (i >= areas.Count || areas[i].Iova > last) return 0;
                    var a = areas[i];
                    if (a.Locks > 0) return Errno.EBUSY.Neg(); // locked by an object not yet destroyed (a HW queue)
                    if (a.Iova < start || a.Last > last) return Errno.ENOENT.Neg();
                    if (a.AccessPins > 0)
                    {
                        a.PreventAccess = true;
                        busyIova = a.Iova;
                        busyLength = a.Length;
                        break;
                    }
                    areas.RemoveAt(i);
                    if (a.Filled) a.Pages.Unfill(a.FirstIndex, a.LastIndex);
                    a.Filled = false;
                    a.Pages.Put();
                    unmapped += a.Length;
                    if (a.Last == Max) return 0;
                }
            }
            // iommufd_access_notify_unmap, outside the lock: each access unpins what it holds
            // there; an area still pinned after the 101st call makes the unmap give up (EDEADLK).
            if (busyIova != lastBusy) tries = 0; // counted per area, as the kernel does
            lastBusy = busyIova;
            foreach (var access in AccessesSnapshot()) access.NotifyUnmap(busyIova, busyLength);
            if (++tries > MaxUnmapTries) return Errno.EDEADLK.Neg();
        }
    }

    /// <summary>How often an unmap asks the accesses before it gives up (<c>iopt_unmap_iova_range</c>'s 100 tries).</summary>
    private const int MaxUnmapTries = 100;

    private IIoasAccess[] AccessesSnapshot()
    {
        lock (Gate) return accesses.ToArray();
    }

    /// <summary>
    /// <c>iopt_add_access</c>: the access joins this table and the IOVA alignment is recomputed
    /// with its alignment (EADDRINUSE when a mapped area does not fit; nothing changes then).
    /// </summary>
    internal int AddAccess(IIoasAccess access)
    {
        lock (Gate)
        {
            accesses.Add(access);
            int rc = RecalculateAlignment();
            if (rc < 0) accesses.Remove(access);
            return rc;
        }
    }

    /// <summary><c>iopt_remove_access</c>.</summary>
    internal void RemoveAccess(IIoasAccess access)
    {
        lock (Gate)
        {
            accesses.Remove(access);
            RecalculateAlignment();
        }
    }

    /// <summary>
    /// <c>iommufd_access_pin_pages</c>' walk: the areas covering [iova, last] contiguously from the
    /// one holding <paramref name="iova"/> each get an access pin over their pages (pinned even
    /// with no domain). EINVAL for a piece whose start (or, when more follows, end) is not on a
    /// page boundary of its pages; EPERM for a write over an area or pages not writable or a read
    /// over an area not readable; EFAULT/ENOMEM from pinning; ENOENT for a hole. On failure the
    /// pins already taken are dropped. Each pin is recorded in <paramref name="pins"/>.
    /// </summary>
    internal int PinForAccess(ulong iova, ulong last, bool write, List<AccessPin> pins)
    {
        lock (Gate)
        {
            int start = pins.Count;
            int rc = 0;
            ulong cur = iova;
            bool done = false;
            int i = FirstEndingAtOrAfter(iova);
            for (; i < areas.Count && areas[i].Iova <= cur; i++)
            {
                var a = areas[i];
                ulong pieceLast = Math.Min(last, a.Last);
                bool more = pieceLast < last;
                if (a.PreventAccess) { rc = Errno.EINVAL.Neg(); break; }
                if (a.StartByteAt(cur) % PageSize != 0 || (more && a.StartByteAt(a.Last) % PageSize != PageSize - 1)) { rc = Errno.EINVAL.Neg(); break; }
                if (write ? !a.Writable : !a.Readable) { rc = Errno.EPERM.Neg(); break; }
                if (write && !a.Pages.Writable) { rc = Errno.EPERM.Neg(); break; }
                ulong first = a.StartByteAt(cur) >> AddressSpace.PageShift, lastIndex = a.StartByteAt(pieceLast) >> AddressSpace.PageShift;
                rc = a.Pages.Fill(first, lastIndex);
                if (rc < 0) break;
                a.AccessPins++;
                pins.Add(new AccessPin(a, first, lastIndex));
                if (!more) { done = true; break; }
                cur = pieceLast + 1;
            }
            if (rc == 0 && !done) rc = Errno.ENOENT.Neg();
            if (rc < 0)
            {
                for (int k = pins.Count - 1; k >= start; k--) UnpinLocked(pins[k]);
                pins.RemoveRange(start, pins.Count - start);
            }
            return rc;
        }
    }

    /// <summary>
    /// An internal access's pin (<c>iommufd_access_pin_pages</c> of an access made by
    /// <c>iommufd_access_create_internal</c>): a read pin as <see cref="PinForAccess"/> that also
    /// locks each area it meets (<see cref="IoptArea.Locks"/>).
    /// </summary>
    internal int PinInternal(ulong iova, ulong last, List<AccessPin> pins)
    {
        lock (Gate)
        {
            int start = pins.Count;
            int rc = PinForAccess(iova, last, write: false, pins);
            if (rc == 0)
                for (int k = start; k < pins.Count; k++) pins[k].Area.Locks++;
            return rc;
        }
    }

    /// <summary>Undoes <see cref="PinInternal"/>.</summary>
    internal void UnpinInternal(List<AccessPin> pins)
    {
        lock (Gate)
        {
            foreach (var p in pins) p.Area.Locks--;
            UnpinForAccess(pins);
            pins.Clear();
        }
    }

    /// <summary><c>iommufd_access_unpin_pages</c>: drops pins taken by <see cref="PinForAccess"/>.</summary>
    internal void UnpinForAccess(List<AccessPin> pins)
    {
        lock (Gate)
            foreach (var p in pins) UnpinLocked(p);
        pins.Clear();
    }

    private static void UnpinLocked(AccessPin p)
    {
        p.Area.AccessPins--;
        p.Area.Pages.Unfill(p.First, p.Last);
    }

    /// <summary>
    /// <c>iommufd_access_rw</c>'s walk: reads or writes <paramref name="data"/> through the areas
    /// covering [iova, iova + data.Length - 1] contiguously. EPERM as for pinning, EFAULT when the
    /// memory behind is gone, ENOENT for a hole.
    /// </summary>
    internal int AccessRw(ulong iova, Span<byte> data, bool write)
    {
        lock (Gate)
        {
            ulong last = iova + (ulong)(data.Length - 1), cur = iova;
            int i = FirstEndingAtOrAfter(iova);
            for (; i < areas.Count && areas[i].Iova <= cur; i++)
            {
                var a = areas[i];
                ulong pieceLast = Math.Min(last, a.Last);
                if (a.PreventAccess) return Errno.EINVAL.Neg();
                if (write ? !a.Writable : !a.Readable) return Errno.EPERM.Neg();
                if (write && !a.Pages.Writable) return Errno.EPERM.Neg();
                var piece = data.Slice((int)(cur - iova), (int)(pieceLast - cur + 1));
                ulong offset = a.StartByteAt(cur);
                int rc = write ? a.Pages.Source.Write(offset, piece) : a.Pages.Source.Read(offset, piece);
                if (rc < 0) return rc;
                if (pieceLast == last) return 0;
                cur = pieceLast + 1;
            }
            return Errno.ENOENT.Neg();
        }
    }

    /// <summary>
    /// <c>iopt_get_pages</c> (IOAS_COPY's source): the pages behind [iova, iova + length - 1], which
    /// contiguous areas must cover from the one containing <paramref name="iova"/>. EINVAL for
    /// length 0, EOVERFLOW, ENOENT for a hole. Each slice holds a reference the caller drops with
    /// <see cref="PutSlices"/>.
    /// </summary>
    internal int GetPages(ulong iova, ulong length, List<PagesSlice> into)
    {
        if (length == 0) return Errno.EINVAL.Neg();
        if (Max - iova < length - 1) return Errno.EOVERFLOW.Neg();
        ulong lastIova = iova + (length - 1);
        lock (Gate)
        {
            int i = FirstEndingAtOrAfter(iova);
            if (i >= areas.Count || areas[i].Iova > iova) return Errno.ENOENT.Neg();
            ulong cur = iova;
            while (true)
            {
                var a = areas[i];
                ulong last = Math.Min(lastIova, a.Last);
                into.Add(new PagesSlice(a.Pages, a.StartByteAt(cur), last - cur + 1));
                a.Pages.Get();
                if (a.Last >= lastIova) return 0;
                cur = a.Last + 1;
                i++;
                if (i >= areas.Count || areas[i].Iova != cur)
                {
                    PutSlices(into);
                    return Errno.ENOENT.Neg();
                }
            }
        }
    }

    /// <summary>Drops the references <see cref="GetPages"/> took.</summary>
    internal static void PutSlices(List<PagesSlice> slices)
    {
        foreach (var s in slices) s.Pages.Put();
        slices.Clear();
    }

    /// <summary>
    /// <c>iopt_set_allow_iova</c>: replaces the allowed list (already checked: each start &lt; last,
    /// no overlaps); EADDRINUSE, the old list kept, when an allowed interval meets a reserved one.
    /// </summary>
    internal int SetAllowed(List<(ulong Start, ulong Last)> ranges)
    {
        lock (Gate)
        {
            foreach (var (s, l) in ranges)
                if (ReservedIntersects(s, l)) return Errno.EADDRINUSE.Neg();
            allowed.Clear();
            allowed.AddRange(ranges.OrderBy(r => r.Start));
            return 0;
        }
    }

    /// <summary>
    /// <c>iopt_table_enforce_group_resv_regions</c>: reserves a device's regions, owned by
    /// <paramref name="owner"/>; EADDRINUSE (none kept) when one meets an area or an allowed interval.
    /// </summary>
    internal int ReserveRegions(object owner, IEnumerable<(ulong Start, ulong Last)> regions)
    {
        lock (Gate)
        {
            foreach (var (s, l) in regions)
            {
                int rc = Reserve(s, l, owner);
                if (rc < 0)
                {
                    RemoveReservedLocked(owner);
                    return rc;
                }
            }
            return 0;
        }
    }

    /// <summary><c>iopt_remove_reserved_iova</c>: drops every interval <paramref name="owner"/> reserved.</summary>
    internal void RemoveReserved(object owner)
    {
        lock (Gate) RemoveReservedLocked(owner);
    }

    /// <summary>IOAS_IOVA_RANGES: the holes between the reserved intervals over the whole 64-bit space.</summary>
    internal List<(ulong Start, ulong Last)> UsableRanges()
    {
        lock (Gate)
        {
            var holes = new List<(ulong, ulong)>();
            ulong cursor = 0;
            bool done = false;
            foreach (var (s, l) in MergedReserved())
            {
                if (s > cursor) holes.Add((cursor, s - 1));
                if (l == Max) { done = true; break; }
                cursor = Math.Max(cursor, l + 1);
            }
            if (!done) holes.Add((cursor, Max));
            return holes;
        }
    }

    /// <summary>
    /// <c>iopt_table_add_domain</c>: an IOMMU domain joins: the IOVA alignment rises to its page size
    /// (EINVAL above PAGE_SIZE; EADDRINUSE when an area does not fit it), its aperture's outside is
    /// reserved (EADDRINUSE over an area), and the first domain pins every area (EFAULT/ENOMEM).
    /// Nothing changes on failure.
    /// </summary>
    internal int AddDomain(object domain, ulong pageSize, ulong apertureStart, ulong apertureEnd)
    {
        lock (Gate)
        {
            ulong align = Math.Max(pageSize, IovaAlignment);
            if (align > PageSize) return Errno.EINVAL.Neg();
            if (align != IovaAlignment)
            {
                int rc = CheckAlignment(align);
                if (rc < 0) return rc;
            }
            int r = 0;
            if (apertureStart != 0) r = Reserve(0, apertureStart - 1, domain);
            if (r == 0 && apertureEnd != Max) r = Reserve(apertureEnd + 1, Max, domain);
            if (r == 0 && domains.Count == 0) r = FillAll();
            if (r < 0)
            {
                RemoveReservedLocked(domain);
                return r;
            }
            IovaAlignment = align;
            domains.Add((domain, pageSize));
            return 0;
        }
    }

    /// <summary><c>iopt_table_remove_domain</c>: the last domain unpins every area; its reservations go; the alignment is recomputed.</summary>
    internal void RemoveDomain(object domain)
    {
        lock (Gate)
        {
            int i = domains.FindIndex(d => ReferenceEquals(d.Domain, domain));
            if (i < 0) return;
            domains.RemoveAt(i);
            if (domains.Count == 0)
                foreach (var a in areas)
                    if (a.Filled)
                    {
                        a.Pages.Unfill(a.FirstIndex, a.LastIndex);
                        a.Filled = false;
                    }
            RemoveReservedLocked(domain);
            RecalculateAlignment();
        }
    }

    /// <summary>
    /// IOMMU_OPTION_HUGE_PAGES set: enabling always works; disabling is EINVAL while domains hold
    /// mappings, EADDRINUSE when an area does not fit PAGE_SIZE alignment (nothing changes).
    /// </summary>
    internal int SetLargePages(bool enable)
    {
        lock (Gate)
        {
            if (enable)
            {
                LargePagesDisabled = false;
                RecalculateAlignment();
                return 0;
            }
            if (LargePagesDisabled) return 0;
            if (domains.Count > 0 && areas.Count > 0) return Errno.EINVAL.Neg();
            LargePagesDisabled = true;
            int rc = RecalculateAlignment();
            if (rc < 0) LargePagesDisabled = false;
            return rc;
        }
    }

    /// <summary>
    /// <c>iopt_cut_iova</c> (VFIO type1 unmap with large pages disabled): each IOVA that falls
    /// inside an area, not at its first or last byte, splits it so that IOVA becomes the last
    /// byte of the left half; the halves share the pages (pinned and charged once). EBUSY while an
    /// unmap waits on the area's accesses; EINVAL when the split point is not aligned or an access
    /// pins the area. Stops at the first failure.
    /// </summary>
    internal int Cut(ReadOnlySpan<ulong> iovas)
    {
        lock (Gate)
        {
            foreach (ulong iova in iovas)
            {
                int i = FirstEndingAtOrAfter(iova);
                if (i >= areas.Count || areas[i].Iova > iova) continue;
                var a = areas[i];
                if (iova == a.Iova || iova == a.Last) continue;
                if (a.PreventAccess) return Errno.EBUSY.Neg();
                ulong next = iova + 1;
                if ((next & (IovaAlignment - 1)) != 0 || (a.StartByteAt(next) & (IovaAlignment - 1)) != 0) return Errno.EINVAL.Neg();
                if (a.AccessPins > 0) return Errno.EINVAL.Neg(); // access pins cannot be split
                var lhs = new IoptArea(a.Iova, iova, a.Pages, a.StartByte, a.Readable, a.Writable) { Filled = a.Filled };
                var rhs = new IoptArea(next, a.Last, a.Pages, a.StartByteAt(next), a.Readable, a.Writable) { Filled = a.Filled };
                if (a.Filled) a.Pages.Refill(a.FirstIndex, a.LastIndex, (lhs.FirstIndex, lhs.LastIndex), (rhs.FirstIndex, rhs.LastIndex));
                a.Pages.Get();
                areas[i] = lhs;
                areas.Insert(i + 1, rhs);
            }
            return 0;
        }
    }

    /// <summary><c>iopt_calculate_iova_alignment</c>. Caller holds the lock.</summary>
    private int RecalculateAlignment()
    {
        ulong align = LargePagesDisabled ? PageSize : 1;
        foreach (var (_, p) in domains) align = Math.Max(align, p);
        foreach (var a in accesses) align = Math.Max(align, a.IovaAlignment);
        if (align > IovaAlignment)
        {
            int rc = CheckAlignment(align);
            if (rc < 0) return rc;
        }
        IovaAlignment = align;
        return 0;
    }

    /// <summary><c>iopt_check_iova_alignment</c>: every area's IOVA, length and page offset fit. Caller holds the lock.</summary>
    private int CheckAlignment(ulong align)
    {
        ulong mask = align - 1;
        foreach (var a in areas)
            if ((a.Iova & mask) != 0 || (a.Length & mask) != 0 || ((a.StartByte % PageSize) & mask) != 0)
                return Errno.EADDRINUSE.Neg();
        return 0;
    }

    /// <summary>Pins every area for the first domain; undoes on failure. Caller holds the lock.</summary>
    private int FillAll()
    {
        for (int i = 0; i < areas.Count; i++)
        {
            int rc = areas[i].Pages.Fill(areas[i].FirstIndex, areas[i].LastIndex);
            if (rc < 0)
            {
                for (int j = 0; j < i; j++)
                {
                    areas[j].Pages.Unfill(areas[j].FirstIndex, areas[j].LastIndex);
                    areas[j].Filled = false;
                }
                return rc;
            }
            areas[i].Filled = true;
        }
        return 0;
    }

    /// <summary><c>iopt_reserve_iova</c>. Caller holds the lock.</summary>
    private int Reserve(ulong start, ulong last, object owner)
    {
        if (AreaIntersects(start, last) || AllowedIntersects(start, last)) return Errno.EADDRINUSE.Neg();
        reserved.Add(new IovaReservation(start, last, owner));
        return 0;
    }

    private void RemoveReservedLocked(object owner) => reserved.RemoveAll(r => ReferenceEquals(r.Owner, owner));

    /// <summary>
    /// <c>iopt_check_iova</c> for a fixed IOVA: EINVAL unaligned, EOVERFLOW, EINVAL over a reserved
    /// interval, EEXIST over an area. Caller holds the lock.
    /// </summary>
    private int CheckIova(ulong iova, ulong length)
    {
        if ((iova & (IovaAlignment - 1)) != 0) return Errno.EINVAL.Neg();
        if (Max - iova < length - 1) return Errno.EOVERFLOW.Neg();
        ulong last = iova + (length - 1);
        if (ReservedIntersects(iova, last)) return Errno.EINVAL.Neg();
        if (AreaIntersects(iova, last)) return Errno.EEXIST.Neg();
        return 0;
    }

    /// <summary>
    /// <c>iopt_alloc_iova</c>: the lowest IOVA (never 0) inside the allowed intervals (or
    /// [PAGE_SIZE, ULONG_MAX - PAGE_SIZE] when none are set) that is neither reserved nor mapped,
    /// aligned to the smaller of the length rounded up to a power of two and the alignment of
    /// <paramref name="hint"/> (the user address), keeping the hint's page offset. EOVERFLOW for
    /// length 0 or at least ULONG_MAX / 2, EINVAL when that alignment is below the table's, ENOSPC.
    /// </summary>
    private int AllocIova(out ulong iova, ulong hint, ulong length)
    {
        iova = 0;
        if (length == 0 || length >= Max / 2) return Errno.EOVERFLOW.Neg();
        ulong pow2 = RoundUpPowerOfTwo(length);
        ulong align = hint == 0 ? pow2 : Math.Min(pow2, 1ul << System.Numerics.BitOperations.TrailingZeroCount(hint));
        if (align < IovaAlignment) return Errno.EINVAL.Neg();
        ulong pageOffset = hint % PageSize;

        IEnumerable<(ulong Start, ulong Last)> spans = allowed.Count == 0
            ? [(PageSize, Max - PageSize)]
            : allowed.Where(a => a.Last >= PageSize && a.Start <= Max - PageSize)
                .Select(a => (Math.Max(a.Start, PageSize), Math.Min(a.Last, Max - PageSize)));
        foreach (var (s, l) in spans)
        {
            if (!Fits(s, l, length, align, pageOffset, out ulong from)) continue;
            foreach (var (hs, hl) in Holes(from, l))
                if (Fits(hs, hl, length, align, pageOffset, out ulong at))
                {
                    iova = at;
                    return 0;
                }
        }
        return Errno.ENOSPC.Neg();
    }

    /// <summary>__alloc_iova_check_*: aligns the span's start (keeping the page offset) and checks the length still fits.</summary>
    private static bool Fits(ulong start, ulong last, ulong length, ulong align, ulong pageOffset, out ulong aligned)
    {
        aligned = 0;
        if (last - start < length - 1) return false;
        ulong up = (start + (align - 1)) & ~(align - 1);
        if (up < start) return false; // ALIGN wrapped past ULONG_MAX: no room
        aligned = up | pageOffset;
        return aligned <= last && last - aligned >= length - 1;
    }

    /// <summary>The holes of (reserved ∪ areas) inside [from, last], in order. Caller holds the lock.</summary>
    private IEnumerable<(ulong Start, ulong Last)> Holes(ulong from, ulong last)
    {
        var used = MergedReserved().Where(r => r.Last >= from && r.Start <= last).ToList();
        for (int i = FirstEndingAtOrAfter(from); i < areas.Count && areas[i].Iova <= last; i++) used.Add((areas[i].Iova, areas[i].Last));
        used.Sort((a, b) => a.Start.CompareTo(b.Start));
        ulong cursor = from;
        foreach (var (s, l) in used)
        {
            if (l < cursor) continue;
            if (s > cursor) yield return (cursor, Math.Min(s - 1, last));
            if (l >= last) yield break;
            cursor = l + 1;
        }
        if (cursor <= last) yield return (cursor, last);
    }

    /// <summary>The reserved intervals merged, in order. Caller holds the lock.</summary>
    private List<(ulong Start, ulong Last)> MergedReserved()
    {
        var merged = new List<(ulong Start, ulong Last)>();
        foreach (var r in reserved.OrderBy(r => r.Start))
        {
            if (merged.Count > 0 && (merged[^1].Last == Max || r.Start <= merged[^1].Last + 1))
                merged[^1] = (merged[^1].Start, Math.Max(merged[^1].Last, r.Last));
            else merged.Add((r.Start, r.Last));
        }
        return merged;
    }

    private bool AreaIntersects(ulong start, ulong last)
    {
        int i = FirstEndingAtOrAfter(start);
        return i < areas.Count && areas[i].Iova <= last;
    }

    private bool ReservedIntersects(ulong start, ulong last)
    {
        foreach (var r in reserved)
            if (r.Start <= last && start <= r.Last) return true;
        return false;
    }

    private bool AllowedIntersects(ulong start, ulong last)
    {
        foreach (var (s, l) in allowed)
            if (s <= last && start <= l) return true;
        return false;
    }

    /// <summary>Index of the first area whose last IOVA is at or above <paramref name="iova"/> (binary search).</summary>
    private int FirstEndingAtOrAfter(ulong iova)
    {
        int lo = 0, hi = areas.Count;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (areas[mid].Last < iova) lo = mid + 1; else hi = mid;
        }
        return lo;
    }

    private static ulong RoundUpPowerOfTwo(ulong v) => v <= 1 ? 1 : 1ul << (64 - System.Numerics.BitOperations.LeadingZeroCount(v - 1));
}
