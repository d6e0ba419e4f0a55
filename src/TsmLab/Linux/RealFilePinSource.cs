using TsmLab.Abi;
using TsmLab.Kernel;
using TsmLab.Kernel.Iommufd;

namespace TsmLab.Linux;

/// <summary>
/// A traced program's real file as IOMMU_IOAS_MAP_FILE's pin source: the supervisor's copy of
/// the fd (pidfd_getfd). A pin is checked as <c>memfd_pin_folios</c> would answer: EINVAL unless
/// the file is shmem (fstatfs TMPFS_MAGIC, as a memfd is) or hugetlbfs, and EINVAL for a page at
/// or past the end of the file (fstat st_size). Disposing closes the copy.
/// </summary>
internal sealed unsafe class RealFilePinSource(int fd, ulong startDown) : IPinSource, IDisposable
{
    private const long TmpfsMagic = 0x0102_1994;
    private const long HugetlbfsMagic = 0x9584_58f6;
    private const int StatSizeOffset = 48;

    private int fd = fd;

    public ulong Base { get; } = startDown;

    public int CheckPinnable(ulong offset, ulong length, bool write)
    {
        if (fd < 0) return Errno.EINVAL.Neg();
        long* statfs = stackalloc long[16];
        if (Sys.Call(SysNr.Fstatfs, fd, (long)statfs) < 0 || (statfs[0] != TmpfsMagic && statfs[0] != HugetlbfsMagic))
            return Errno.EINVAL.Neg();
        byte* st = stackalloc byte[LinuxConst.StatSize];
        if (Sys.Call(SysNr.Fstat, fd, (long)st) < 0) return Errno.EINVAL.Neg();
        ulong size = (ulong)*(long*)(st + StatSizeOffset);
        ulong start = Base + offset;
        return start <= size && length <= size - start ? 0 : Errno.EINVAL.Neg();
    }

    public bool TryGetFileIdentity(out FileIdentity file)
    {
        file = default;
        if (fd < 0) return false;
        byte* st = stackalloc byte[LinuxConst.StatSize];
        if (Sys.Call(SysNr.Fstat, fd, (long)st) < 0) return false;
        // struct stat: st_dev @0, st_ino @8 (u64 each on x86-64 and arm64).
        file = FileIdentity.FromStat(*(ulong*)st, *(ulong*)(st + 8));
        return true;
    }

    /// <summary>An access's read of the file's bytes (pread64 on the supervisor's copy): 0, or -EFAULT for a short or failed read.</summary>
    public int Read(ulong offset, Span<byte> destination)
    {
        fixed (byte* p = destination)
            return Transfer(SysNr.Pread64, offset, p, destination.Length);
    }

    /// <summary>An access's write of the file's bytes (pwrite64 on the supervisor's copy): 0, or -EFAULT.</summary>
    public int Write(ulong offset, ReadOnlySpan<byte> source)
    {
        fixed (byte* p = source)
            return Transfer(SysNr.Pwrite64, offset, p, source.Length);
    }

    private int Transfer(int nr, ulong offset, byte* p, int length)
    {
        int done = 0;
        while (done < length)
        {
            if (fd < 0) return Errno.EFAULT.Neg();
            long n = Sys.Call(nr, fd, (long)(p + done), length - done, (long)(Base + offset + (ulong)done));
            if (n <= 0) return Errno.EFAULT.Neg();
            done += (int)n;
        }
        return 0;
    }

    public void Dispose()
    {
        int f = Interlocked.Exchange(ref fd, -1);
        if (f >= 0) Sys.Close(f);
    }
}
