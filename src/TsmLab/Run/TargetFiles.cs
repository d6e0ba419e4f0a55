using TsmLab.Kernel;
using TsmLab.Linux;

namespace TsmLab.Run;

/// <summary>
/// The model's files inside a real program's descriptor table. Each <see cref="KernelFile"/>
/// handed to the program is one end of an AF_UNIX socketpair (a placeholder) installed with
/// SECCOMP_IOCTL_NOTIF_ADDFD; the supervisor keeps the other end. A descriptor is the model's
/// exactly when its inode is a placeholder's, so dup, fork, exec and fd reuse need no
/// bookkeeping: the real kernel keeps the table. When every copy of a placeholder is closed
/// (close, exit, kill) the kept end reports POLLHUP, and <see cref="Release"/> drops the
/// table's reference to the file: file_operations.release runs at the same point as on Linux.
/// Single-threaded: the supervisor's loop is its only user.
/// </summary>
internal sealed class TargetFiles : IFileTable, IDisposable
{
    private readonly Dictionary<ulong, Placeholder> byInode = new();
    private readonly Dictionary<int, int> pidfds = new();
    private bool pidfdsUnavailable;
    private readonly int listener;
    private ulong socketDev = ulong.MaxValue;
    private ulong notificationId;
    private int tid;
    private int cachedFd = -1;
    private KernelFile? cachedFile;

    public TargetFiles(int listener) => this.listener = listener;

    /// <summary>One placeholder: the file it stands for and the end the supervisor keeps.</summary>
    public sealed record Placeholder(KernelFile File, int KeptFd, ulong Inode);

    /// <summary>Placeholders alive now.</summary>
    public IReadOnlyCollection<Placeholder> Live => byInode.Values;

    /// <summary>Bumped whenever a placeholder is added or released (the poll set changes).</summary>
    public int Version { get; private set; }

    /// <summary>Starts serving a notification: lookups use its thread, installs its id.</summary>
    public void Begin(ulong id, int callerTid)
    {
        notificationId = id;
        tid = callerTid;
        cachedFd = -1;
        cachedFile = null;
    }

    /// <summary>The model file behind the caller's <paramref name="fd"/>, or null when it is not one of ours (or not open).</summary>
    public KernelFile? Ours(int fd)
    {
        var f = Lookup(fd);
        return f is ForeignFile ? null : f;
    }

    public KernelFile? Lookup(int fd)
    {
        if (fd < 0) return null;
        if (fd == cachedFd) return cachedFile;
        KernelFile? file;
        if (IdentifyByPidfd(fd, out bool open, out ulong dev, out ulong ino) || IdentifyByProc(fd, out open, out dev, out ino))
            file = !open ? null : dev == socketDev && byInode.TryGetValue(ino, out var p) ? p.File : ForeignFile.Instance;
        else file = null;
        cachedFd = fd;
        cachedFile = file;
        return file;
    }

    /// <summary>
    /// Which file the caller's fd is, the fast way: pidfd_getfd a copy of it (Linux 5.6+; a
    /// thread's pidfd needs PIDFD_THREAD, 6.9+), fstat it, close it (about half the cost of a
    /// stat of /proc/TID/fd/N). False when this way is not available; the caller then asks /proc.
    /// </summary>
    private bool IdentifyByPidfd(int fd, out bool open, out ulong dev, out ulong ino)
    {
        open = false;
        dev = ino = 0;
        if (pidfdsUnavailable) return false;
        for (int attempt = 0; attempt < 2; attempt++)
        {
            int pidfd = PidfdOf(tid);
            if (pidfd < 0) return false;
            long copy = Sys.Call(SysNr.PidfdGetfd, pidfd, fd, 0);
            if (copy >= 0)
            {
                Sys.Fstat((int)copy, out dev, out ino);
                Sys.Close((int)copy);
                open = true;
                return true;
            }
            if (copy == -LinuxErrno.EBADF) return true; // not open
            // ESRCH: the thread behind a cached pidfd is gone (its TID may be reused): reopen once.
            ForgetPidfd(tid);
            if (copy != -LinuxErrno.ESRCH) return false;
        }
        return false;
    }

    private bool IdentifyByProc(int fd, out bool open, out ulong dev, out ulong ino)
    {
        Span<byte> path = stackalloc byte[48];
        int n = Format(path, tid, fd);
        open = Sys.Stat(path[..(n + 1)], out dev, out ino) == 0;
        return true;
    }

    private int PidfdOf(int threadId)
    {
        if (pidfds.TryGetValue(threadId, out int pidfd)) return pidfd;
        if (pidfds.Count >= 256) ForgetAllPidfds(); // threads come and go; bound the cache
        const int PidfdThread = 0x80; // O_EXCL
        long rc = Sys.Call(SysNr.PidfdOpen, threadId, PidfdThread);
        if (rc == -LinuxErrno.EINVAL) rc = Sys.Call(SysNr.PidfdOpen, threadId, 0); // before 6.9: leaders only
        if (rc < 0)
        {
            if (rc != -LinuxErrno.ESRCH && rc != -LinuxErrno.EINVAL) pidfdsUnavailable = true;
            return -1;
        }
        pidfds[threadId] = (int)rc;
        return (int)rc;
    }

    private void ForgetPidfd(int threadId)
    {
        if (pidfds.Remove(threadId, out int pidfd)) Sys.Close(pidfd);
    }

    private void ForgetAllPidfds()
    {
        foreach (int pidfd in pidfds.Values) Sys.Close(pidfd);
        pidfds.Clear();
    }

    /// <summary>
    /// IOMMU_IOAS_MAP_FILE on one of the program's real files (its memfd): a copy of the fd taken
    /// with pidfd_getfd, kept open while the pages exist, as the kernel's get_file. Null for the
    /// model's own files, a closed fd, or where pidfd_getfd is unavailable.
    /// </summary>
    public Kernel.Iommufd.IPinSource? FilePinSource(int fd, ulong startDown)
    {
        if (Ours(fd) is not null || pidfdsUnavailable) return null;
        int pidfd = PidfdOf(tid);
        if (pidfd < 0) return null;
        long copy = Sys.Call(SysNr.PidfdGetfd, pidfd, fd, 0);
        return copy < 0 ? null : new RealFilePinSource((int)copy, startDown);
    }

    /// <summary>KVM's anon-inode fds (VM, device) are created O_CLOEXEC, as kvm_main.c does.</summary>
    public int Install(KernelFile file)
    {
        long rc = Place(file, cloexec: true, send: false, out _);
        return (int)rc;
    }

    /// <summary>
    /// Creates a placeholder for <paramref name="file"/> and installs it in the caller; with
    /// <paramref name="send"/> the trapped syscall returns the new fd atomically. On success the
    /// table holds the caller's reference to the file; on failure the caller keeps it.
    /// </summary>
    public long Place(KernelFile file, bool cloexec, bool send, out Placeholder? placed)
    {
        placed = null;
        long rc = Sys.SocketPair(out int kept, out int given);
        if (rc < 0) return rc;
        var stream = file as IStreamFile;
        // Reads on the program's end see end-of-file instead of blocking forever; a stream file's
        // end is non-blocking instead (an empty queue reads EAGAIN), and the model writes into it.
        if (stream is null) Sys.Call(SysNr.Shutdown, kept, LinuxConst.ShutWr);
        else Sys.Call(FcntlNr, given, FSetfl, ONonblock);
        rc = Sys.Fstat(given, out ulong dev, out ulong ino);
        if (rc == 0)
        {
            socketDev = dev;
            rc = Seccomp.AddFd(listener, notificationId, given, cloexec, send);
        }
        Sys.Close(given);
        if (rc < 0)
        {
            Sys.Close(kept);
            return rc;
        }
        placed = new Placeholder(file, kept, ino);
        byInode.Add(ino, placed);
        Version++;
        cachedFd = -1;
        stream?.Connect(new SocketSink(kept));
        return rc;
    }

    private const int FcntlNr = 72, FSetfl = 4, ONonblock = 0x800, MsgDontwait = 0x40, MsgNosignal = 0x4000, SiocOutq = 0x5411;

    /// <summary>
    /// A stream file's records go into the kept end of its placeholder, without blocking (a full
    /// socket refuses them). Everything pushed has been read when the kept end's output queue
    /// (SIOCOUTQ: bytes the peer has not consumed) is empty.
    /// </summary>
    private sealed unsafe class SocketSink(int kept) : IStreamSink
    {
        public bool Push(ReadOnlySpan<byte> data)
        {
            fixed (byte* p = data)
                return Sys.Call(44 /* sendto */, kept, (long)p, data.Length, MsgDontwait | MsgNosignal, 0, 0) == data.Length;
        }

        public bool Drained
        {
            get
            {
                int queued = 0;
                return Sys.Call(SysNr.Ioctl, kept, SiocOutq, (long)&queued) == 0 && queued == 0;
            }
        }
    }

    /// <summary>The program closed the last copy of a placeholder: the model's file loses the table's reference.</summary>
    public void Release(Placeholder p)
    {
        if (!byInode.Remove(p.Inode)) return;
        Sys.Close(p.KeptFd);
        Version++;
        cachedFd = -1;
        p.File.Put();
    }

    /// <summary>Releases every placeholder still alive (the supervisor is shutting down).</summary>
    public void Dispose()
    {
        foreach (var p in byInode.Values.ToArray()) Release(p);
        ForgetAllPidfds();
    }

    private static int Format(Span<byte> dest, int tid, int fd)
    {
        "/proc/"u8.CopyTo(dest);
        int n = 6;
        n += WriteInt(dest[n..], tid);
        "/fd/"u8.CopyTo(dest[n..]);
        n += 4;
        n += WriteInt(dest[n..], fd);
        dest[n] = 0;
        return n;
    }

    private static int WriteInt(Span<byte> dest, int v)
    {
        System.Buffers.Text.Utf8Formatter.TryFormat(v, dest, out int written);
        return written;
    }

    /// <summary>
    /// An open descriptor that is not the model's (a real file, pipe, socket…). One shared
    /// instance: handlers only test its type and balance fget with fput.
    /// </summary>
    private sealed class ForeignFile : KernelFile
    {
        public static readonly ForeignFile Instance = new();

        public override string Name => "(a file outside the model)";
    }
}
