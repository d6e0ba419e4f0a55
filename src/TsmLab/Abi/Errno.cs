namespace TsmLab.Abi;

/// <summary>
/// Linux errno values (asm-generic/errno-base.h, asm-generic/errno.h) that the modelled
/// uAPI returns. Handlers return them negated, as the kernel does.
/// </summary>
public enum Errno
{
    EPERM = 1,
    ENOENT = 2,
    EINTR = 4,
    EIO = 5,
    ENXIO = 6,
    E2BIG = 7,
    EBADF = 9,
    ENOMEM = 12,
    EACCES = 13,
    EFAULT = 14,
    EBUSY = 16,
    EEXIST = 17,
    ENODEV = 19,
    EINVAL = 22,
    ENOTTY = 25,
    EMFILE = 24,
    ENOSPC = 28,
    ESPIPE = 29,
    ERANGE = 34,
    EDEADLK = 35,
    EBADE = 52,
    ENODATA = 61,
    EOVERFLOW = 75,
    EBADFD = 77,
    EMSGSIZE = 90,
    EOPNOTSUPP = 95,
    EADDRINUSE = 98,
}

/// <summary>Names for errno values, without allocating on the hot path.</summary>
public static class ErrnoNames
{
    /// <summary>The symbolic name of a positive or negative errno (e.g. -22 gives "EINVAL").</summary>
    public static string NameOf(long value)
    {
        var e = (Errno)(int)Math.Abs(value);
        return Enum.IsDefined(e) ? e.ToString() : $"E{Math.Abs(value)}";
    }

    /// <summary>The negative return value a handler gives for <paramref name="e"/>.</summary>
    public static int Neg(this Errno e) => -(int)e;
}
