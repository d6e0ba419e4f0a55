using System.Runtime.InteropServices;

namespace TsmLab.Linux;

/// <summary>
/// The one libc entry point TsmLab uses: <c>syscall(2)</c>. Every Linux call the run supervisor
/// makes goes through it with x86-64 syscall numbers (<see cref="SysNr"/>), so the P/Invoke
/// surface is a single blittable function. Results follow the kernel: a non-negative value, or
/// the negative errno (taken from libc's errno after syscall returned -1).
/// </summary>
internal static unsafe partial class Sys
{
    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long RawSyscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6);

    /// <summary>Makes a syscall; returns its result, or -errno.</summary>
    public static long Call(long nr, long a1 = 0, long a2 = 0, long a3 = 0, long a4 = 0, long a5 = 0, long a6 = 0)
    {
        long rc = RawSyscall(nr, a1, a2, a3, a4, a5, a6);
        return rc == -1 ? -Marshal.GetLastPInvokeError() : rc;
    }

    /// <summary>Like <see cref="Call"/>, retried while it fails with EINTR.</summary>
    public static long CallRestarting(long nr, long a1 = 0, long a2 = 0, long a3 = 0, long a4 = 0, long a5 = 0, long a6 = 0)
    {
        long rc;
        do rc = Call(nr, a1, a2, a3, a4, a5, a6);
        while (rc == -LinuxErrno.EINTR);
        return rc;
    }

    public static long Close(int fd) => Call(SysNr.Close, fd);

    /// <summary>openat(AT_FDCWD, path, flags, mode) with a NUL-terminated UTF-8 path.</summary>
    public static long Open(string path, int flags, int mode = 0)
    {
        Span<byte> p = stackalloc byte[PathBytes(path)];
        WritePath(path, p);
        fixed (byte* pp = p) return CallRestarting(SysNr.Openat, LinuxConst.AtFdcwd, (long)pp, flags, mode);
    }

    /// <summary>stat: (st_dev, st_ino) of what a path names (following links); 0 or -errno.</summary>
    public static long Stat(ReadOnlySpan<byte> nulTerminatedPath, out ulong dev, out ulong ino)
    {
        Span<byte> st = stackalloc byte[LinuxConst.StatSize];
        long rc;
        fixed (byte* pp = nulTerminatedPath)
        fixed (byte* sp = st)
            rc = Call(SysNr.Newfstatat, LinuxConst.AtFdcwd, (long)pp, (long)sp, 0);
        dev = rc == 0 ? BitConverter.ToUInt64(st[..8]) : 0;
        ino = rc == 0 ? BitConverter.ToUInt64(st[8..16]) : 0;
        return rc;
    }

    /// <summary>fstat: (st_dev, st_ino) of an open fd.</summary>
    public static long Fstat(int fd, out ulong dev, out ulong ino)
    {
        Span<byte> st = stackalloc byte[LinuxConst.StatSize];
        long rc;
        fixed (byte* sp = st) rc = Call(SysNr.Fstat, fd, (long)sp);
        dev = rc == 0 ? BitConverter.ToUInt64(st[..8]) : 0;
        ino = rc == 0 ? BitConverter.ToUInt64(st[8..16]) : 0;
        return rc;
    }

    /// <summary>readlink of a path into a string, or null.</summary>
    public static string? ReadLink(string path)
    {
        Span<byte> p = stackalloc byte[PathBytes(path)];
        WritePath(path, p);
        Span<byte> buf = stackalloc byte[LinuxConst.PathMax];
        long rc;
        fixed (byte* pp = p)
        fixed (byte* bp = buf)
            rc = Call(SysNr.Readlinkat, LinuxConst.AtFdcwd, (long)pp, (long)bp, buf.Length);
        return rc < 0 ? null : System.Text.Encoding.UTF8.GetString(buf[..(int)rc]);
    }

    public static long Write(int fd, ReadOnlySpan<byte> data)
    {
        fixed (byte* d = data) return CallRestarting(SysNr.Write, fd, (long)d, data.Length);
    }

    public static long Read(int fd, Span<byte> data)
    {
        fixed (byte* d = data) return CallRestarting(SysNr.Read, fd, (long)d, data.Length);
    }

    /// <summary>poll(2) of one descriptor: 1 with <paramref name="revents"/>, 0 on timeout, or -errno.</summary>
    public static long PollOne(int fd, short events, int timeoutMs, out short revents)
    {
        // struct pollfd { int fd; short events; short revents; }
        long pfd = (uint)fd | ((long)(ushort)events << 32);
        long rc = Call(SysNr.Poll, (long)&pfd, 1, timeoutMs);
        revents = (short)(pfd >> 48);
        return rc;
    }

    /// <summary>ioctl with a pointer argument.</summary>
    public static long Ioctl(int fd, uint cmd, void* arg) => Call(SysNr.Ioctl, fd, cmd, (long)arg);

    /// <summary>socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC): both ends, or -errno.</summary>
    public static long SocketPair(out int a, out int b)
    {
        int* sv = stackalloc int[2];
        long rc = Call(SysNr.Socketpair, LinuxConst.AfUnix, LinuxConst.SockStream | LinuxConst.SockCloexec, 0, (long)sv);
        a = sv[0];
        b = sv[1];
        return rc;
    }

    /// <summary>memfd_create(name, MFD_CLOEXEC).</summary>
    public static long MemfdCreate(string name)
    {
        Span<byte> p = stackalloc byte[PathBytes(name)];
        WritePath(name, p);
        fixed (byte* pp = p) return Call(SysNr.MemfdCreate, (long)pp, LinuxConst.MfdCloexec);
    }

    /// <summary>Bytes a path takes NUL-terminated (checked: at most PATH_MAX).</summary>
    public static int PathBytes(string path)
    {
        int n = System.Text.Encoding.UTF8.GetByteCount(path) + 1;
        if (n > LinuxConst.PathMax) throw new ArgumentException($"path longer than PATH_MAX: {path[..32]}…");
        return n;
    }

    public static void WritePath(string path, Span<byte> destination)
    {
        int n = System.Text.Encoding.UTF8.GetBytes(path, destination);
        destination[n] = 0;
    }
}
