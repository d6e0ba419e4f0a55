using TsmLab.Abi;

namespace TsmLab.Kernel.Iommufd;

/// <summary>How an <see cref="IoptPages"/> charges its pins (<c>enum iopt_pages_account_mode</c> [LI5]).</summary>
public enum PinAccountMode
{
    /// <summary>The owner has CAP_IPC_LOCK: counted in pinned_vm only.</summary>
    None,
    /// <summary>Charged to the user's locked_vm against the owner's RLIMIT_MEMLOCK (the default).</summary>
    User,
    /// <summary>Charged to the owner's mm locked_vm (IOMMU_OPTION_RLIMIT_MODE 1, VFIO type1's way).</summary>
    Mm,
}

/// <summary>Where the pages of an <see cref="IoptPages"/> come from: a user VA range or a file (memfd).</summary>
public interface IPinSource
{
    /// <summary>The page-aligned user address or file offset of the first page: IOVA allocation keeps its alignment.</summary>
    ulong Base { get; }

    /// <summary>Whether bytes [offset, offset + length) of the source can be pinned: 0, -EFAULT (user memory) or the file's errno.</summary>
    int CheckPinnable(ulong offset, ulong length, bool write);

    /// <summary>The real file the pages come from, when the source is one (false for user memory and model files).</summary>
    bool TryGetFileIdentity(out FileIdentity file)
    {
        file = default;
        return false;
    }

    /// <summary>Copies bytes at <paramref name="offset"/> of the source into <paramref name="destination"/> (an access's read): 0 or -EFAULT.</summary>
    int Read(ulong offset, Span<byte> destination) => Errno.EFAULT.Neg();

    /// <summary>Copies <paramref name="source"/> to bytes at <paramref name="offset"/> of the source (an access's write): 0 or -EFAULT.</summary>
    int Write(ulong offset, ReadOnlySpan<byte> source) => Errno.EFAULT.Neg();
}

/// <summary>
/// A window of a file as a pin source (<c>IOPT_ADDRESS_FILE</c>): pinned with
/// <c>memfd_pin_folios</c>, which answers EINVAL for a file that is not shmem (memfd) and for a
/// page at or past its end [LI7]. Holds a reference to the file until the pages go (get_file).
/// </summary>
internal sealed class FilePinSource : IPinSource, IDisposable
{
    private readonly KernelFile file;

    public FilePinSource(KernelFile file, ulong startDown)
    {
        file.Get();
        this.file = file;
        Base = startDown;
    }

    public ulong Base { get; }

    public int CheckPinnable(ulong offset, ulong length, bool write)
    {
        if (file is not MemfdFile memfd) return Errno.EINVAL.Neg();
        ulong start = Base + offset;
        return start <= memfd.Size && length <= memfd.Size - start ? 0 : Errno.EINVAL.Neg();
    }

    public void Dispose() => file.Put();
}

/// <summary>
/// A user VA range of a process as a pin source (<c>IOPT_ADDRESS_USER</c>): pinning checks go to
/// the mm that mapped it (<paramref name="mm"/>, <c>source_mm</c>); reads and writes through an
/// access go to <paramref name="memory"/>, the caller's (the model cannot reach the pinned pages
/// of an mm that has exited; a forked copy has the same bytes until either side writes).
/// </summary>
internal sealed class UserPinSource(IUserMemory memory, IUserMemory mm, ulong uptr) : IPinSource
{
    public UserPinSource(IUserMemory memory, ulong uptr) : this(memory, memory, uptr) { }

    public ulong Uptr { get; } = uptr;
    public ulong Base => Uptr;
    public int CheckPinnable(ulong offset, ulong length, bool write) => mm.CheckPinnable(Uptr + offset, length, write);
    public int Read(ulong offset, Span<byte> destination) => memory.CopyFromUser(destination, Uptr + offset) < 0 ? Errno.EFAULT.Neg() : 0;
    public int Write(ulong offset, ReadOnlySpan<byte> source) => memory.CopyToUser(Uptr + offset, source) < 0 ? Errno.EFAULT.Neg() : 0;
}

/// <summary>
/// The pages behind one or more IOAS areas (<c>struct iopt_pages</c>, drivers/iommu/iommufd/pages.c
/// [LI5]): a page-aligned window of a source (user VA or memfd), <c>npages</c> long, writable or
/// not, shared by the areas that map it (an IOAS_COPY shares it across IOASes, so a range is pinned
/// and charged once). The pages are pinned while an area over them sits in an IOAS with at least
/// one IOMMU domain ("filled"); the count pinned is the union of the filled areas' page indexes,
/// and every change is charged or refunded as <see cref="AccountMode"/> says: past RLIMIT_MEMLOCK
/// a fill is ENOMEM. The mock driver's check-refs and check-map read <see cref="Pinned"/> and
/// <see cref="IsPinned"/>.
/// <para>Thread safety: guarded by its own lock (<c>pages->mutex</c>), taken inside the io_pagetable's.</para>
/// </summary>
public sealed class IoptPages
{
    private readonly Lock mutex = new();
    /// <summary>Page-index ranges of the filled areas, one entry per filled area (duplicates allowed).</summary>
    private readonly List<(ulong First, ulong Last)> filled = new();
    private long pinned;
    private int references = 1;

    internal IoptPages(Process owner, IPinSource source, ulong npages, bool writable, PinAccountMode mode)
    {
        this.owner = owner;
        Source = source;
        NPages = npages;
        Writable = writable;
        AccountMode = mode;
    }

    /// <summary>The process whose memory this is (<c>source_mm</c>, <c>source_task</c>): its limit applies. IOMMU_IOAS_CHANGE_PROCESS moves file pages to the caller (<see cref="ChangeOwner"/>).</summary>
    public Process Owner { get => Volatile.Read(ref owner); private set => Volatile.Write(ref owner, value); }
    private Process owner;
    public IPinSource Source { get; }
    public ulong NPages { get; }
    public bool Writable { get; }
    public PinAccountMode AccountMode { get; }

    /// <summary>Pages pinned now (<c>npinned</c>).</summary>
    public long Pinned
    {
        get { lock (mutex) return pinned; }
    }

    /// <summary>Areas and in-flight copies holding these pages (<c>kref</c>).</summary>
    public int References => Volatile.Read(ref references);

    /// <summary>True when page <paramref name="index"/> is pinned.</summary>
    public bool IsPinned(ulong index)
    {
        lock (mutex)
            foreach (var (f, l) in filled)
                if (f <= index && index <= l) return true;
        return false;
    }

    internal void Get() => Interlocked.Increment(ref references);

    /// <summary>Drops a reference; the last releases the source (a file's reference).</summary>
    internal void Put()
    {
        if (Interlocked.Decrement(ref references) == 0 && Source is IDisposable d) d.Dispose();
    }

    /// <summary>
    /// Pins pages [first, last] for a filled area (<c>iopt_area_fill_domains</c>): pages not already
    /// pinned are checked against the source (EFAULT) and charged (ENOMEM). Nothing changes on failure.
    /// </summary>
    internal int Fill(ulong first, ulong last)
    {
        lock (mutex)
        {
            long added = 0;
            ulong cursor = first;
            foreach (var (f, l) in Union())
            {
                if (l < cursor) continue;
                if (f > last) break;
                if (f > cursor)
                {
                    int rc = CheckRange(cursor, f - 1);
                    if (rc < 0) return rc;
                    added += (long)(f - cursor);
                }
                cursor = l + 1;
                if (cursor > last) break;
            }
            if (cursor <= last)
            {
                int rc = CheckRange(cursor, last);
                if (rc < 0) return rc;
                added += (long)(last - cursor + 1);
            }
            if (added > 0)
            {
                int rc = Charge(added);
                if (rc < 0) return rc;
            }
            filled.Add((first, last));
            pinned += added;
            return 0;
        }
    }

    /// <summary>Unpins the pages only this area held (<c>iopt_area_unfill_domains</c>) and refunds them.</summary>
    internal void Unfill(ulong first, ulong last)
    {
        lock (mutex)
        {
            int i = filled.IndexOf((first, last));
            if (i < 0) return;
            filled.RemoveAt(i);
            long now = 0;
            foreach (var (f, l) in Union()) now += (long)(l - f + 1);
            long freed = pinned - now;
            pinned = now;
            if (freed > 0) Refund(freed);
        }
    }

    /// <summary>A filled area split in two: its range is replaced by the halves' (the pinned union does not change).</summary>
    internal void Refill(ulong first, ulong last, (ulong First, ulong Last) left, (ulong First, ulong Last) right)
    {
        lock (mutex)
        {
            int i = filled.IndexOf((first, last));
            if (i < 0) return;
            filled[i] = left;
            filled.Add(right);
        }
    }

    private int CheckRange(ulong first, ulong last) =>
        Source.CheckPinnable(first << AddressSpace.PageShift, (last - first + 1) << AddressSpace.PageShift, Writable);

    /// <summary>The filled ranges merged, in order.</summary>
    private List<(ulong First, ulong Last)> Union()
    {
        var sorted = filled.OrderBy(r => r.First).ToList();
        var merged = new List<(ulong First, ulong Last)>(sorted.Count);
        foreach (var r in sorted)
        {
            if (merged.Count > 0 && r.First <= merged[^1].Last + 1)
                merged[^1] = (merged[^1].First, Math.Max(merged[^1].Last, r.Last));
            else merged.Add(r);
        }
        return merged;
    }

    private int Charge(long pages) => Charge(Owner, AccountMode, pages);

    private void Refund(long pages) => Refund(Owner, AccountMode, pages);

    /// <summary><c>iopt_pages_update_pinned</c> (increment): charge <paramref name="process"/> by mode (ENOMEM past its limit), then count in its pinned_vm.</summary>
    internal static int Charge(Process process, PinAccountMode mode, long pages)
    {
        var limits = process.Limits;
        int rc = mode switch
        {
            PinAccountMode.User => UserLockedMemory.TryCharge(ref process.Kernel.UserLockedMemory.Counter, pages, limits.LimitPages),
            PinAccountMode.Mm => UserLockedMemory.TryCharge(ref limits.LockedVm, pages, limits.CapIpcLock ? ulong.MaxValue : limits.LimitPages),
            _ => 0,
        };
        if (rc < 0) return rc;
        limits.AddPinned(pages);
        return 0;
    }

    /// <summary><c>iopt_pages_update_pinned</c> (decrement).</summary>
    internal static void Refund(Process process, PinAccountMode mode, long pages)
    {
        var limits = process.Limits;
        switch (mode)
        {
            case PinAccountMode.User: Interlocked.Add(ref process.Kernel.UserLockedMemory.Counter, -pages); break;
            case PinAccountMode.Mm: Interlocked.Add(ref limits.LockedVm, -pages); break;
        }
        limits.AddPinned(-pages);
    }

    /// <summary>
    /// <c>need_charge_update</c>: whether moving these pages to <paramref name="to"/> moves a charge
    /// (never for ACCOUNT_NONE; otherwise when the owner differs: the model's process stands for
    /// both the mm and the user).
    /// </summary>
    internal bool NeedsChargeMove(Process to) => AccountMode != PinAccountMode.None && !ReferenceEquals(Owner, to);

    /// <summary>
    /// IOMMU_IOAS_CHANGE_PROCESS's <c>change_mm</c> after the new owner was charged: the old owner
    /// is refunded what is pinned now (when the charge moves) and <paramref name="to"/> becomes the
    /// owner. Caller holds the io_pagetable lock of every IOAS.
    /// </summary>
    internal void ChangeOwner(Process to)
    {
        lock (mutex)
        {
            if (NeedsChargeMove(to) && pinned > 0) Refund(pinned);
            Owner = to;
        }
    }
}
