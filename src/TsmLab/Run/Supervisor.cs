using System.Runtime.InteropServices;
using TsmLab.Abi;
using TsmLab.Kernel;
using TsmLab.Linux;

namespace TsmLab.Run;

/// <summary>
/// Serves a seccomp listener for one program tree: each notification is one trapped syscall of
/// one thread (the program, its threads, its children after fork, whatever they exec). Opens of
/// the model's paths install placeholders; ioctls on placeholders run the model's handler with
/// the caller's real memory; everything else is continued. The loop is single-threaded (the
/// model's one user), and never waits on the program: a notification whose caller died is
/// dropped (SECCOMP_IOCTL_NOTIF_ID_VALID after reading an open's path and before acting on it;
/// for an ioctl before the model's handler runs) [U1]. It returns when no task uses the filter
/// any more, with every placeholder released.
/// </summary>
internal sealed unsafe class Supervisor : IListenerServer
{
    private const int MsgDontwait = 0x40;

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    private readonly HostKernel kernel;
    private readonly int listener;
    private readonly TargetFiles files;
    private readonly ProcessMemory memory = new();
    private readonly Process process;
    private readonly TextWriter error;
    private PollFd[] pollFds = [];
    private TargetFiles.Placeholder[] polled = [];
    private int pollVersion = -1;
    private bool warnedSysfsWrite;

    private readonly bool trapReadWrite;
    private readonly byte[] ioBuffer = new byte[AddressSpace.PageSize];

    public Supervisor(HostKernel kernel, int listener, int pid, TextWriter error, bool trapReadWrite = false)
    {
        this.trapReadWrite = trapReadWrite;
        this.kernel = kernel;
        this.listener = listener;
        this.error = error;
        files = new TargetFiles(listener);
        process = new Process(kernel, pid, memory, files);
        process.Limits.Real = new RealCredentials(pid);
    }

    public RunStatistics Statistics { get; } = new();

    /// <summary>The model's view of the program (its memory and descriptors are the real ones).</summary>
    public Process Process => process;

    /// <summary>Serves notifications until the last task under the filter is gone.</summary>
    public void Serve()
    {
        byte* junk = stackalloc byte[512];
        while (true)
        {
            if (pollVersion != files.Version) RebuildPollSet();
            long rc;
            fixed (PollFd* p = pollFds) rc = Sys.Call(SysNr.Poll, (long)p, pollFds.Length, -1);
            if (rc == -LinuxErrno.EINTR) continue;
            if (rc < 0) throw new IOException($"poll on the seccomp listener failed (errno {-rc})");
            // Releases first: a close that happened before a notification was posted is seen
            // here in the same round (the listener is polled first), so the model releases a
            // file before it serves the program's next call, as the real kernel does.
            for (int i = 1; i < pollFds.Length; i++)
            {
                short ev = pollFds[i].Revents;
                if ((ev & (LinuxConst.PollHup | LinuxConst.PollErr)) != 0)
                {
                    files.Release(polled[i]);
                    Statistics.Released++;
                }
                else if ((ev & LinuxConst.PollIn) != 0)
                {
                    // write(2) on a model file is not trapped: a stream file (an event queue's fd)
                    // gets what was written; for any other it is dropped.
                    long got;
                    while ((got = Sys.Call(45 /* recvfrom */, polled[i].KeptFd, (long)junk, 512, MsgDontwait, 0, 0)) > 0)
                        if (polled[i].File is IStreamFile stream) stream.Written(new ReadOnlySpan<byte>(junk, (int)got));
                }
            }
            short lev = pollFds[0].Revents;
            if ((lev & LinuxConst.PollIn) != 0) HandleOne();
            else if ((lev & (LinuxConst.PollHup | LinuxConst.PollErr | LinuxConst.PollNval)) != 0) break;
        }
        // Every program file is closed now (the kernel closed them at exit); pick up the hangups.
        DrainReleases();
    }

    /// <summary>Releases every placeholder whose last copy is closed, without blocking.</summary>
    public void DrainReleases()
    {
        foreach (var p in files.Live.ToArray())
        {
            var fd = new PollFd { Fd = p.KeptFd, Events = 0 };
            if (Sys.Call(SysNr.Poll, (long)&fd, 1, 0) == 1 && (fd.Revents & (LinuxConst.PollHup | LinuxConst.PollErr)) != 0)
            {
                files.Release(p);
                Statistics.Released++;
            }
        }
    }

    public void Dispose() => files.Dispose();

    private void RebuildPollSet()
    {
        var live = files.Live.ToArray();
        pollFds = new PollFd[live.Length + 1];
        polled = new TargetFiles.Placeholder[live.Length + 1];
        pollFds[0] = new PollFd { Fd = listener, Events = LinuxConst.PollIn };
        for (int i = 0; i < live.Length; i++)
        {
            pollFds[i + 1] = new PollFd { Fd = live[i].KeptFd, Events = LinuxConst.PollIn };
            polled[i + 1] = live[i];
        }
        pollVersion = files.Version;
    }

    private void HandleOne()
    {
        if (Seccomp.Receive(listener, out var n) < 0) return; // ENOENT: the caller died first
        Statistics.Notifications++;
        files.Begin(n.Id, n.Tid);
        memory.Tid = n.Tid;
        if (n.Arch != Seccomp.AuditArchX86_64)
        {
            Answer(n.Id, -LinuxErrno.ENOSYS);
            return;
        }
        try
        {
            Dispatch(n);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A fault in the model must not take the supervisor (and with it every trapped
            // syscall of the program) down: report it in one line and fail this call with EIO.
            lock (error) error.WriteLine($"tsmlab run: internal error serving syscall {n.Nr} of thread {n.Tid}: {e.GetType().Name}: {e.Message}");
            Answer(n.Id, -(int)Errno.EIO);
        }
    }

    private void Dispatch(in Seccomp.Notification n)
    {
        switch (n.Nr)
        {
            case SysNr.Ioctl:
                Ioctl(n);
                break;
            case SysNr.Open:
                Open(n, LinuxConst.AtFdcwd, n.Arg0, (int)n.Arg1);
                break;
            case SysNr.Openat:
                Open(n, (int)n.Arg0, n.Arg1, (int)n.Arg2);
                break;
            case SysNr.Openat2:
                // struct open_how { __u64 flags, mode, resolve; }: a short or unreadable one is the kernel's to refuse.
                Span<byte> how = stackalloc byte[8];
                if (n.Arg3 < 24 || memory.CopyFromUser(how, n.Arg2) < 0) Continue(n.Id);
                else Open(n, (int)n.Arg0, n.Arg1, (int)BitConverter.ToUInt64(how));
                break;
            case SysNr.Access:
                Access(n, LinuxConst.AtFdcwd, n.Arg0);
                break;
            case SysNr.Read:
            case SysNr.Pread64:
            case SysNr.Write:
            case SysNr.Pwrite64:
                ReadWrite(n);
                break;
            case SysNr.Faccessat:
            case SysNr.Faccessat2:
                Access(n, (int)n.Arg0, n.Arg1);
                break;
            default:
                Continue(n.Id);
                break;
        }
    }

    /// <summary>
    /// The model file behind the notification's fd (its first argument) when the supervisor is to
    /// answer the call; otherwise the notification is settled here and null returned. A closed fd
    /// is answered EBADF at once: a CONTINUE would run later, when another thread may have opened a
    /// model file at that number (its placeholder would answer ENOTTY). A file that is not ours is
    /// continued; a notification whose caller is gone is dropped.
    /// </summary>
    private KernelFile? ClaimModelFile(in Seccomp.Notification n)
    {
        int fd = (int)n.Arg0;
        if (files.Lookup(fd) is null)
        {
            Statistics.Emulated++;
            Answer(n.Id, -LinuxErrno.EBADF);
            return null;
        }
        var file = files.Ours(fd);
        if (file is null)
        {
            Continue(n.Id);
            return null;
        }
        if (!Seccomp.IdValid(listener, n.Id))
        {
            Statistics.Dropped++;
            return null;
        }
        return file;
    }

    private void Ioctl(in Seccomp.Notification n)
    {
        if (ClaimModelFile(n) is null) return;
        long rc = process.Ioctl((int)n.Arg0, (uint)n.Arg1, n.Arg2);
        Statistics.Emulated++;
        Answer(n.Id, rc);
    }

    private void Open(in Seccomp.Notification n, int dirfd, ulong pathPtr, int flags)
    {
        string? path = ReadModelPath(n, dirfd, pathPtr);
        var kind = path is null ? ModelPaths.Kind.NotOurs : ModelPaths.Classify(kernel, path);
        if (kind == ModelPaths.Kind.NotOurs)
        {
            Continue(n.Id);
            return;
        }
        if (!Seccomp.IdValid(listener, n.Id))
        {
            Statistics.Dropped++;
            return;
        }
        Statistics.Emulated++;
        bool cloexec = (flags & LinuxConst.OCloexec) != 0;
        if (kind == ModelPaths.Kind.Sysfs)
        {
            OpenSysfs(n, path!, flags, cloexec);
            return;
        }
        bool exists = ModelPaths.DeviceNodeExists(kernel, path!);
        if (exists && (flags & (LinuxConst.OCreat | LinuxConst.OExcl)) == (LinuxConst.OCreat | LinuxConst.OExcl))
        {
            Answer(n.Id, -LinuxErrno.EEXIST);
            return;
        }
        if (exists && (flags & LinuxConst.ODirectory) != 0)
        {
            Answer(n.Id, -LinuxErrno.ENOTDIR);
            return;
        }
        int rc = kernel.OpenNode(path!, out var file);
        if (rc < 0)
        {
            Answer(n.Id, rc);
            return;
        }
        long fd = files.Place(file!, cloexec, send: true, out _);
        if (fd < 0)
        {
            file!.Put();
            if (fd != -LinuxErrno.ENOENT) Answer(n.Id, fd); // ENOENT: the caller is gone
            else Statistics.Dropped++;
        }
    }

    private void OpenSysfs(in Seccomp.Notification n, string path, int flags, bool cloexec)
    {
        if (trapReadWrite)
        {
            OpenSysfsTrapped(n, path, flags, cloexec);
            return;
        }
        if ((flags & LinuxConst.OAccmode) != LinuxConst.ORdonly)
        {
            // kernfs refuses a write open of a read-only attribute with EACCES. A store
            // (connect, disconnect) needs write(2) trapped: --trap-rw.
            if (!warnedSysfsWrite && (path.EndsWith("/tsm/connect", StringComparison.Ordinal) || path.EndsWith("/tsm/disconnect", StringComparison.Ordinal)))
            {
                warnedSysfsWrite = true;
                lock (error) error.WriteLine($"tsmlab run: writing {Input.Printable.Of(path)} needs --trap-rw (without it write(2) is not trapped); the open answers EACCES (docs/run.md)");
            }
            Answer(n.Id, -LinuxErrno.EACCES);
            return;
        }
        int rc = kernel.Sysfs.Read(path, out string value);
        if (rc < 0)
        {
            Answer(n.Id, rc);
            return;
        }
        // The attribute's text, read when it is opened, in a memfd: read, lseek and fstat work.
        long memfd = Sys.MemfdCreate("tsmlab-sysfs");
        if (memfd < 0)
        {
            Answer(n.Id, memfd);
            return;
        }
        byte[] text = System.Text.Encoding.UTF8.GetBytes(value);
        Sys.Write((int)memfd, text);
        Sys.Call(8 /* lseek */, memfd, 0, 0);
        long fd = Seccomp.AddFd(listener, n.Id, (int)memfd, cloexec, send: true);
        Sys.Close((int)memfd);
        if (fd < 0 && fd != -LinuxErrno.ENOENT) Answer(n.Id, fd);
    }

    /// <summary>
    /// With read/write trapped, a sysfs attribute is a placeholder like a device: kernfs's open
    /// checks (EACCES for a write open of a read-only attribute, or a read open of a write-only
    /// one), then show() and store() run at read and write time.
    /// </summary>
    private void OpenSysfsTrapped(in Seccomp.Notification n, string path, int flags, bool cloexec)
    {
        int mode = flags & LinuxConst.OAccmode;
        bool readable = mode is LinuxConst.ORdonly or LinuxConst.ORdwr, writable = mode is LinuxConst.OWronly or LinuxConst.ORdwr;
        int show = kernel.Sysfs.Read(path, out _);
        bool canShow = show == 0, canStore = path.EndsWith("/tsm/connect", StringComparison.Ordinal) || path.EndsWith("/tsm/disconnect", StringComparison.Ordinal);
        if (show < 0 && show != -(int)Errno.EACCES)
        {
            Answer(n.Id, show);
            return;
        }
        if ((readable && !canShow) || (writable && !canStore))
        {
            Answer(n.Id, -LinuxErrno.EACCES);
            return;
        }
        var file = new SysfsAttributeFile(path, readable, writable);
        long fd = files.Place(file, cloexec, send: true, out _);
        if (fd < 0)
        {
            file.Put();
            if (fd != -LinuxErrno.ENOENT) Answer(n.Id, fd);
            else Statistics.Dropped++;
        }
    }

    /// <summary>
    /// read, pread64, write, pwrite64 (with --trap-rw): an event queue's fd is the kernel's to serve
    /// (its placeholder socket carries the records); a model device has no read or write
    /// (EINVAL, as vfs_read/vfs_write answer without FMODE_CAN_READ/WRITE); a sysfs attribute reads
    /// its show() text from the file position and writes one store(); anything else is continued.
    /// </summary>
    private void ReadWrite(in Seccomp.Notification n)
    {
        var file = ClaimModelFile(n);
        if (file is null) return;
        if (file is IStreamFile)
        {
            // An event queue's fd: the model pushes its records into the placeholder socket, so the
            // kernel's read/write of that socket is the answer (pread/pwrite: ESPIPE, as Linux).
            Continue(n.Id);
            return;
        }
        Statistics.Emulated++;
        bool isRead = n.Nr is SysNr.Read or SysNr.Pread64, positioned = n.Nr is SysNr.Pread64 or SysNr.Pwrite64;
        if (file is not SysfsAttributeFile attr)
        {
            Answer(n.Id, -LinuxErrno.EINVAL);
            return;
        }
        if (isRead ? !attr.Readable : !attr.Writable)
        {
            Answer(n.Id, -LinuxErrno.EBADF);
            return;
        }
        long pos = positioned ? (long)n.Arg3 : attr.Position;
        if (pos < 0)
        {
            Answer(n.Id, -LinuxErrno.EINVAL);
            return;
        }
        ulong count = Math.Min(n.Arg2, (ulong)ioBuffer.Length);
        if (isRead)
        {
            if (pos == 0 || attr.Text is null)
            {
                int rc = kernel.Sysfs.Read(attr.Path, out string text);
                if (rc < 0)
                {
                    Answer(n.Id, rc);
                    return;
                }
                attr.Text = System.Text.Encoding.UTF8.GetBytes(text);
            }
            int k = pos >= attr.Text.Length ? 0 : (int)Math.Min(count, (ulong)(attr.Text.Length - pos));
            if (k > 0 && memory.CopyToUser(n.Arg1, attr.Text.AsSpan((int)pos, k)) < 0)
            {
                Answer(n.Id, -LinuxErrno.EFAULT);
                return;
            }
            if (!positioned) attr.Position = pos + k;
            Answer(n.Id, k);
            return;
        }
        if (count == 0)
        {
            Answer(n.Id, 0);
            return;
        }
        var bytes = ioBuffer.AsSpan(0, (int)count);
        if (memory.CopyFromUser(bytes, n.Arg1) < 0)
        {
            Answer(n.Id, -LinuxErrno.EFAULT);
            return;
        }
        int stored = kernel.Sysfs.Write(attr.Path, System.Text.Encoding.UTF8.GetString(bytes));
        if (stored == 0 && !positioned) attr.Position = pos + (long)count;
        Answer(n.Id, stored < 0 ? stored : (long)count);
    }

    private void Access(in Seccomp.Notification n, int dirfd, ulong pathPtr)
    {
        string? path = ReadModelPath(n, dirfd, pathPtr);
        var kind = path is null ? ModelPaths.Kind.NotOurs : ModelPaths.Classify(kernel, path);
        if (kind == ModelPaths.Kind.NotOurs)
        {
            Continue(n.Id);
            return;
        }
        Statistics.Emulated++;
        bool exists = kind == ModelPaths.Kind.DeviceNode
            ? ModelPaths.DeviceNodeExists(kernel, path!)
            : kernel.Sysfs.Read(path!, out _) is 0 or -(int)Errno.EACCES || kernel.Sysfs.Paths().Contains(path!);
        Answer(n.Id, exists ? 0 : -LinuxErrno.ENOENT);
    }

    /// <summary>
    /// The path argument if it can name a model path (absolute under /dev/ or /sys/, or
    /// relative, resolved against the cwd or dirfd); null for anything else, including an
    /// unreadable or over-long path (the kernel then gives its own EFAULT or ENAMETOOLONG).
    /// </summary>
    private string? ReadModelPath(in Seccomp.Notification n, int dirfd, ulong ptr)
    {
        Span<byte> buf = stackalloc byte[LinuxConst.PathMax];
        int len = 0;
        ulong addr = ptr;
        while (true)
        {
            int chunk = (int)Math.Min((ulong)(buf.Length - len), AddressSpace.PageSize - (addr & (AddressSpace.PageSize - 1)));
            if (chunk == 0) return null;
            if (memory.CopyFromUser(buf.Slice(len, chunk), addr) < 0) return null;
            int nul = buf.Slice(len, chunk).IndexOf((byte)0);
            if (nul >= 0)
            {
                len += nul;
                break;
            }
            len += chunk;
            addr += (ulong)chunk;
        }
        var p = buf[..len];
        if (p.IsEmpty) return null;
        if (p[0] == '/')
        {
            // The common case, decided without allocating: a plain absolute path outside /dev and /sys.
            bool plain = p.IndexOf("/."u8) < 0 && p.IndexOf("//"u8) < 0;
            if (plain && !p.StartsWith("/dev/"u8) && !p.StartsWith("/sys/"u8)) return null;
            return ModelPaths.Normalize(System.Text.Encoding.UTF8.GetString(p), "/");
        }
        string? baseDir = dirfd == LinuxConst.AtFdcwd
            ? Sys.ReadLink($"/proc/{n.Tid}/cwd")
            : Sys.ReadLink($"/proc/{n.Tid}/fd/{dirfd}");
        if (baseDir is null || !baseDir.StartsWith('/')) return null;
        return ModelPaths.Normalize(System.Text.Encoding.UTF8.GetString(p), baseDir);
    }

    private void Continue(ulong id)
    {
        Statistics.Continued++;
        if (Seccomp.Continue(listener, id) < 0) Statistics.Dropped++;
    }

    private void Answer(ulong id, long rc)
    {
        long sent = rc >= 0 ? Seccomp.Send(listener, id, rc, 0) : Seccomp.Send(listener, id, 0, (int)rc);
        if (sent < 0) Statistics.Dropped++;
    }
}
