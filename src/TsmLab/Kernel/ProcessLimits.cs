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
    private ulong memlock = DefaultMemlock;
    private bool capIpcLock, capSysResource;

    /// <summary>
    /// A real program's limit and capabilities (<c>tsmlab run</c>): read from the real kernel when
    /// a pin is charged; null for the model's own processes.
    /// </summary>
    public IProcessCredentials? Real { get; set; }

    /// <summary>RLIMIT_MEMLOCK in bytes (setrlimit/prlimit); a real program's own when <see cref="Real"/> is set.</summary>
    public ulong MemlockLimit
    {
        get => Real?.MemlockLimit ?? memlock;
        set => memlock = value;
    }

    /// <summary>CAP_IPC_LOCK (14): pins are not charged against the limit.</summary>
    public bool CapIpcLock
    {
        get => Real?.Capable(IProcessCredentials.CapIpcLock) ?? capIpcLock;
        set => capIpcLock = value;
    }

    /// <summary>CAP_SYS_RESOURCE (24): may set IOMMU_OPTION_RLIMIT_MODE.</summary>
    public bool CapSysResource
    {
        get => Real?.Capable(IProcessCredentials.CapSysResource) ?? capSysResource;
        set => capSysResource = value;
    }

    /// <summary><c>mm->locked_vm</c> in pages (iommufd's per-process accounting mode).</summary>
    public long LockedPages => Interlocked.Read(ref lockedVm);

    /// <summary><c>mm->pinned_vm</c> in pages: every page iommufd holds pinned for this process.</summary>
    public long PinnedPages => Interlocked.Read(ref pinnedVm);

    /// <summary>The limit in pages (RLIMIT_MEMLOCK &gt;&gt; PAGE_SHIFT).</summary>
    internal ulong LimitPages => MemlockLimit >> AddressSpace.PageShift;

    internal ref long LockedVm => ref lockedVm;

    internal void AddPinned(long pages) => Interlocked.Add(ref pinnedVm, pages);
}

/// <summary>A real process's RLIMIT_MEMLOCK and effective capabilities, as the real kernel reports them.</summary>
public interface IProcessCredentials
{
    /// <summary>CAP_IPC_LOCK (include/uapi/linux/capability.h).</summary>
    public const int CapIpcLock = 14;
    /// <summary>CAP_SYS_RESOURCE.</summary>
    public const int CapSysResource = 24;

    /// <summary>The soft RLIMIT_MEMLOCK in bytes.</summary>
    ulong MemlockLimit { get; }

    /// <summary>True when the capability is in the effective set.</summary>
    bool Capable(int capability);
}
