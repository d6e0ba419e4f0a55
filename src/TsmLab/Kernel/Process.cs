using TsmLab.Abi;

namespace TsmLab.Kernel;

/// <summary>
/// A user process on the host (the VMM): its address space and its file-descriptor table.
/// Descriptors 0-2 are the standard streams; a new file gets the lowest free number from 3,
/// as open(2) gives. Thread-safe like a multi-threaded VMM's: the descriptor table has one lock
/// (<c>files_struct.file_lock</c>) that guards changes to the table; looking a descriptor up takes
/// no lock (fget is RCU in Linux: here the table is an array published whole, read with one
/// volatile load, and the file's count is raised only if it is not already zero, then the slot is
/// checked again), so threads of one VMM issuing ioctls on different descriptors never wait for
/// each other here. An ioctl holds its own reference to the file (fget/fput) for its whole run,
/// so a close on another thread takes the descriptor away at once and the file is released when
/// the last user is done, as in Linux.
/// <para>
/// Resource limits (kernel/sys.c <c>do_prlimit</c>): every process has a soft/hard pair per
/// resource, RLIMIT_NOFILE from the host configuration (1024:524288 by default) and the rest
/// RLIM_INFINITY; only RLIMIT_NOFILE has an effect here. open(2) and every file a call installs
/// (KVM_CREATE_VM, KVM_CREATE_DEVICE) get EMFILE when the lowest free descriptor is not below the
/// soft limit (fs/file.c <c>alloc_fd</c>). A process may lower either limit and raise its soft
/// limit up to its hard limit; raising the hard limit needs CAP_SYS_RESOURCE (the host
/// configuration says whether the VMM has it) and never goes above fs.nr_open. Lowering the soft
/// limit closes nothing. Under <c>tsmlab run</c> the table and its limits are the real kernel's.
/// </para>
/// </summary>
public sealed class Process
{
    private const int FirstFreeFd = 3;

    /// <summary>The descriptor table (<c>fdtable.fd</c>): replaced by a larger copy when it grows, so a reader's array is always whole.</summary>
    private KernelFile?[] files = new KernelFile?[64];
    /// <summary>One past the highest descriptor ever installed since the last exit (<c>fdtable</c>'s used range).</summary>
    private int fdCount = FirstFreeFd;
    /// <summary>Guards every change to <see cref="files"/>, <see cref="fdCount"/>, <see cref="nextFd"/> and <see cref="limits"/> (files_struct.file_lock and, for the limits, the task lock); readers of the table take no lock.</summary>
    private readonly Lock fileLock = new();
    /// <summary>No descriptor below this is free (files_struct.next_fd), so an open does not rescan the table from 3.</summary>
    private int nextFd = FirstFreeFd;
    private readonly ResourceLimit[] limits;

    private readonly IUserMemory? foreignMemory;
    private readonly IFileTable? foreignFiles;

    internal Process(HostKernel kernel, int pid)
    {
        Kernel = kernel;
        Pid = pid;
        limits = new ResourceLimit[ResourceLimits.Count];
        Array.Fill(limits, new ResourceLimit(ResourceLimits.Infinity, ResourceLimits.Infinity));
        limits[ResourceLimits.Nofile] = kernel.Configuration.ProcessNofile;
    }

    /// <summary>A real program's process (<c>tsmlab run</c>): its memory and fd table are the real kernel's.</summary>
    internal Process(HostKernel kernel, int pid, IUserMemory memory, IFileTable files) : this(kernel, pid)
    {
        foreignMemory = memory;
        foreignFiles = files;
    }

    public HostKernel Kernel { get; }
    public int Pid { get; }
    public AddressSpace Memory { get; } = new();

    /// <summary>RLIMIT_MEMLOCK, the capabilities that matter to pinning, and the mm's pin counts.</summary>
    public ProcessLimits Limits { get; } = new();

    /// <summary>The memory the kernel side copies through: <see cref="Memory"/>, or a real program's under <c>tsmlab run</c>.</summary>
    public IUserMemory UserMemory => foreignMemory ?? Memory;

    /// <summary>open(2) of a device node: the new fd, or -ENOENT for a path the host does not have.</summary>
    public int Open(string path)
    {
        int rc = Kernel.OpenNode(path, out var file);
        if (rc < 0) return rc;
        int fd = InstallFd(file!);
        if (fd < 0) file!.Put();
        return fd;
    }

    /// <summary>close(2): 0, or -EBADF.</summary>
    public int Close(int fd)
    {
        if (foreignFiles is not null) throw new InvalidOperationException("a real program's descriptors are closed by the real kernel");
        KernelFile? file;
        lock (fileLock)
        {
            file = Lookup(fd);
            if (file is null) return Errno.EBADF.Neg();
            Volatile.Write(ref files[fd], null);
            if (fd < nextFd) nextFd = fd;
        }
        file.Put();
        return 0;
    }

    /// <summary>ioctl(2): the handler's return value, or -EBADF for a closed descriptor.</summary>
    public long Ioctl(int fd, uint cmd, ulong arg)
    {
        var file = Fget(fd);
        if (file is null) return Errno.EBADF.Neg();
        try
        {
            if (Kernel.Trace is not { } log) return file.Ioctl(this, cmd, arg);
            long seq = log.Reserve();
            long rc = file.Ioctl(this, cmd, arg);
            Tracing.IoctlTrace.Record(log, seq, this, fd, cmd, arg, rc);
            return rc;
        }
        finally { file.Put(); }
    }

    /// <summary>Closes every descriptor, as exit(2) does.</summary>
    public void Exit()
    {
        List<KernelFile> closing = new();
        lock (fileLock)
        {
            for (int fd = fdCount - 1; fd >= FirstFreeFd; fd--)
            {
                if (files[fd] is { } f) closing.Add(f);
                Volatile.Write(ref files[fd], null);
            }
            nextFd = fdCount = FirstFreeFd;
        }
        foreach (var f in closing) f.Put();
    }

    /// <summary>Installs a file that the caller holds a reference to; the reference moves to the table.</summary>
    public int InstallFd(KernelFile file)
    {
        if (foreignFiles is not null) return foreignFiles.Install(file);
        lock (fileLock) return InstallFdLocked(file);
    }

    /// <summary><c>alloc_fd</c>: the lowest free descriptor from <see cref="nextFd"/>; EMFILE when it is not below RLIMIT_NOFILE's soft limit.</summary>
    private int InstallFdLocked(KernelFile file)
    {
        int fd = nextFd;
        while (fd < fdCount && files[fd] is not null) fd++;
        if ((ulong)fd >= limits[ResourceLimits.Nofile].Soft) return Errno.EMFILE.Neg();
        if (fd >= files.Length)
        {
            // expand_fdtable: a new, larger array with the old entries, published whole.
            var grown = new KernelFile?[Math.Max(files.Length * 2, fd + 1)];
            Array.Copy(files, grown, fdCount);
            Volatile.Write(ref files, grown);
        }
        Volatile.Write(ref files[fd], file);
        if (fd >= fdCount) fdCount = fd + 1;
        nextFd = fd + 1;
        return fd;
    }

    /// <summary>getrlimit(2) / prlimit64 without a new limit: 0, or EINVAL for a resource number at or above RLIM_NLIMITS.</summary>
    public int GetRlimit(int resource, out ResourceLimit limit)
    {
        limit = default;
        if ((uint)resource >= ResourceLimits.Count) return Errno.EINVAL.Neg();
        lock (fileLock) limit = limits[resource];
        return 0;
    }

    /// <summary>
    /// setrlimit(2) / prlimit64 on itself (kernel/sys.c <c>do_prlimit</c>, in its order): EINVAL for
    /// a resource at or above RLIM_NLIMITS or a soft limit above the hard one; EPERM for a hard
    /// RLIMIT_NOFILE above fs.nr_open, or for raising a hard limit without CAP_SYS_RESOURCE.
    /// Nothing changes when it fails.
    /// </summary>
    public int SetRlimit(int resource, ResourceLimit limit)
    {
        if ((uint)resource >= ResourceLimits.Count || limit.Soft > limit.Hard) return Errno.EINVAL.Neg();
        if (resource == ResourceLimits.Nofile && limit.Hard > ResourceLimits.NrOpen) return Errno.EPERM.Neg();
        lock (fileLock)
        {
            if (limit.Hard > limits[resource].Hard && !Kernel.Configuration.ProcessCapSysResource) return Errno.EPERM.Neg();
            limits[resource] = limit;
            return 0;
        }
    }

    /// <summary>
    /// fget (<c>__fget_files_rcu</c>): the file behind <paramref name="fd"/> with a new reference, or
    /// null. Lock-free: the file's count is raised only while it is not zero, and the slot is read
    /// again afterwards, so a close (or a close and a new open reusing the number) on another
    /// thread gives either the old file with a reference or null, never a released file.
    /// </summary>
    public KernelFile? Fget(int fd)
    {
        if (foreignFiles is not null)
        {
            lock (fileLock)
            {
                var f = foreignFiles.Lookup(fd);
                return f is not null && f.TryGet() ? f : null;
            }
        }
        while (true)
        {
            var file = Lookup(fd);
            if (file is null || !file.TryGet()) return null;
            if (ReferenceEquals(Lookup(fd), file)) return file;
            file.Put(); // the descriptor changed under us: drop the reference and look again
        }
    }

    /// <summary>The open descriptors and their files, lowest first.</summary>
    public IEnumerable<(int Fd, KernelFile File)> OpenFiles()
    {
        var open = new List<(int, KernelFile)>();
        lock (fileLock)
        {
            for (int fd = FirstFreeFd; fd < fdCount; fd++)
                if (files[fd] is { } f) open.Add((fd, f));
        }
        return open;
    }

    /// <summary>Under <c>tsmlab run</c>: a pin source over a real file of the program (IOAS_MAP_FILE), or null.</summary>
    internal Iommufd.IPinSource? ForeignFilePinSource(int fd, ulong startDown) => foreignFiles?.FilePinSource(fd, startDown);

    private KernelFile? Lookup(int fd)
    {
        if (foreignFiles is not null) return foreignFiles.Lookup(fd);
        var table = Volatile.Read(ref files);
        return fd >= FirstFreeFd && fd < table.Length ? Volatile.Read(ref table[fd]) : null;
    }
}
