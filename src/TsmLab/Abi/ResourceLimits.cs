namespace TsmLab.Abi;

/// <summary>
/// getrlimit/setrlimit/prlimit64 numbers (include/uapi/asm-generic/resource.h) and the defaults a
/// VMM meets: the kernel's boot values for RLIMIT_NOFILE (INR_OPEN_CUR 1024 soft,
/// include/uapi/linux/fs.h) and the hard limit systemd gives services and sessions since v240
/// (DefaultLimitNOFILE=1024:524288); fs.nr_open's default (1024 × 1024, fs/file.c sysctl_nr_open),
/// the most any hard limit may be.
/// </summary>
public static class ResourceLimits
{
    /// <summary>RLIMIT_NOFILE: one more than the highest descriptor number open(2) may give.</summary>
    public const int Nofile = 7;
    /// <summary>RLIM_NLIMITS: resources are numbered below it.</summary>
    public const int Count = 16;
    /// <summary>RLIM_INFINITY (as prlimit64 carries it).</summary>
    public const ulong Infinity = ulong.MaxValue;

    public const ulong DefaultNofileSoft = 1024;
    public const ulong DefaultNofileHard = 524288;
    /// <summary>fs.nr_open's default: a hard RLIMIT_NOFILE above it is EPERM even with CAP_SYS_RESOURCE.</summary>
    public const ulong NrOpen = 1024 * 1024;
}

/// <summary>A soft/hard limit pair (<c>struct rlimit64</c>).</summary>
public readonly record struct ResourceLimit(ulong Soft, ulong Hard);
