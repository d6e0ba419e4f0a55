namespace TsmLab.Kernel;

/// <summary>
/// What a process may pin (include/uapi/asm-generic/resource.h, mm/mlock.c): its RLIMIT_MEMLOCK,
/// the capabilities that lift it (CAP_IPC_LOCK) or allow changing iommufd's accounting mode
/// (CAP_SYS_RESOURCE), and the counts the mm keeps: <c>mm->locked_vm</c> (charged when iommufd
/// accounts per process) and <c>mm->pinned_vm</c> (every long-term pin). The model's VMM starts
/// with Linux's default limit of 8 MiB (MLOCK_LIMIT since 5.16) and no capabilities; a VMM raises
/// the limit as libvirt does for QEMU (<see cref="MemlockLimit"/> is its setrlimit). Read by
/// iommufd's page accounting (<see cref="Iommufd.IoptPages"/>). Thread-safe: the counts are atomic.
/// </summary>
public sealed class ProcessLimits
{
    /// <summary>RLIM_INFINITY.</summary>
    public const ulong Infinity = ulong.MaxValue;

    /// <summary>MLOCK_LIMIT: 8 MiB.</summary>
    public const ulong DefaultMemlock = 8ul << 20;

    private long lockedVm;
    private long pinnedVm;

    /// <summary>RLIMIT_MEMLOCK in bytes (setrlimit/prlimit).</summary>
    public ulong MemlockLimit { get; set; } = DefaultMemlock;

    /// <summary>CAP_IPC_LOCK: pins are not charged against the limit.</summary>
    public bool CapIpcLock { get; set; }

    /// <summary>CAP_SYS_RESOURCE: may set IOMMU_OPTION_RLIMIT_MODE.</summary>
    public bool CapSysResource { get; set; }

    /// <summary><c>mm->locked_vm</c> in pages (iommufd's per-process accounting mode).</summary>
    public long LockedPages => Interlocked.Read(ref lockedVm);

    /// <summary><c>mm->pinned_vm</c> in pages: every page iommufd holds pinned for this process.</summary>
    public long PinnedPages => Interlocked.Read(ref pinnedVm);

    /// <summary>The limit in pages (RLIMIT_MEMLOCK &gt;&gt; PAGE_SHIFT).</summary>
    internal ulong LimitPages => MemlockLimit >> AddressSpace.PageShift;

    internal ref long LockedVm => ref lockedVm;

    internal void AddPinned(long pages) => Interlocked.Add(ref pinnedVm, pages);
}
