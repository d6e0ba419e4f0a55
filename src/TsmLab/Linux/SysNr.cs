namespace TsmLab.Linux;

/// <summary>x86-64 system call numbers (arch/x86/entry/syscalls/syscall_64.tbl).</summary>
internal static class SysNr
{
    public const int Read = 0;
    public const int Write = 1;
    public const int Open = 2;
    public const int Close = 3;
    public const int Fstat = 5;
    public const int Poll = 7;
    public const int Lseek = 8;
    public const int Ioctl = 16;
    public const int Pread64 = 17;
    public const int Pwrite64 = 18;
    public const int Readv = 19;
    public const int Writev = 20;
    public const int Access = 21;
    public const int Getpid = 39;
    public const int Getppid = 110;
    public const int Fstatfs = 138;
    public const int Prlimit64 = 302;
    public const int Shutdown = 48;
    public const int Socketpair = 53;
    public const int Execve = 59;
    public const int Kill = 62;
    public const int Prctl = 157;
    public const int Gettid = 186;
    public const int Openat = 257;
    public const int Mknodat = 259;
    public const int Newfstatat = 262;
    public const int Readlinkat = 267;
    public const int Faccessat = 269;
    public const int ProcessVmReadv = 310;
    public const int ProcessVmWritev = 311;
    public const int Seccomp = 317;
    public const int MemfdCreate = 319;
    public const int PidfdOpen = 434;
    public const int Openat2 = 437;
    public const int PidfdGetfd = 438;
    public const int Faccessat2 = 439;

    /// <summary>Bit 30 marks an x32 system call (__X32_SYSCALL_BIT).</summary>
    public const uint X32Bit = 0x4000_0000;
}

/// <summary>The errno values the supervisor itself looks at (asm-generic/errno*.h).</summary>
internal static class LinuxErrno
{
    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int ESRCH = 3;
    public const int EINTR = 4;
    public const int E2BIG = 7;
    public const int ENOEXEC = 8;
    public const int EBADF = 9;
    public const int EAGAIN = 11;
    public const int EFAULT = 14;
    public const int EACCES = 13;
    public const int EEXIST = 17;
    public const int ENOTDIR = 20;
    public const int EISDIR = 21;
    public const int EINVAL = 22;
    public const int ENOSYS = 38;
    public const int ENAMETOOLONG = 36;
}

/// <summary>Flags and sizes of the generic Linux ABI on x86-64.</summary>
internal static class LinuxConst
{
    public const int AtFdcwd = -100;
    public const int PathMax = 4096;
    public const int StatSize = 144;
    public const int AfUnix = 1;
    public const int SockStream = 1;
    public const int SockCloexec = 0x80000;
    public const int ShutWr = 1;
    public const int MfdCloexec = 1;
    public const int ORdonly = 0;
    public const int OWronly = 1;
    public const int ORdwr = 2;
    public const int OAccmode = 3;
    public const int OCreat = 0x40;
    public const int OExcl = 0x80;
    public const int OTrunc = 0x200;
    public const int ODirectory = 0x10000;
    public const int OCloexec = 0x80000;
    public const int OPath = 0x200000;
    public const int OTmpfile = 0x410000;
    public const short PollIn = 0x1;
    public const short PollErr = 0x8;
    public const short PollHup = 0x10;
    public const short PollNval = 0x20;
    public const int PrSetNoNewPrivs = 38;
    public const int SIfifo = 0x1000;
    public const int Sigkill = 9;
    public const int WOk = 2;
    public const int ROk = 4;
}
