namespace TsmLab.Kernel;

/// <summary>
/// Which file a page of memory belongs to: the device (major, minor, as /proc/PID/maps prints
/// them) and inode of a real file. The mock driver's MD_CHECK_MAP compares it where the kernel
/// compares PFNs: a page mapped from a memfd is the same page wherever that file's offset is mapped.
/// </summary>
public readonly record struct FileIdentity(uint Major, uint Minor, ulong Inode)
{
    /// <summary>From a userspace <c>st_dev</c> (glibc's dev_t encoding: gnu_dev_major / gnu_dev_minor) and <c>st_ino</c>.</summary>
    public static FileIdentity FromStat(ulong dev, ulong inode) =>
        new((uint)(((dev >> 8) & 0xFFF) | ((dev >> 32) & ~0xFFFul)), (uint)((dev & 0xFF) | ((dev >> 12) & ~0xFFul)), inode);
}
