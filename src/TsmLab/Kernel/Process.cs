using TsmLab.Abi;

namespace TsmLab.Kernel;

/// <summary>
/// A user process on the host (the VMM): its address space and its file-descriptor table.
/// Descriptors 0-2 are the standard streams; a new file gets the lowest free number from 3,
/// as open(2) gives. Thread-safe like a multi-threaded VMM's: the descriptor table has one lock
/// (<c>files_struct.file_lock</c>) that guards only the table; an ioctl holds its own reference
/// to the file (fget/fput) for its whole run, so a close on another thread takes the descriptor
/// away at once and the file is released when the last user is done, as in Linux.
/// </summary>
public sealed class Process
{
    /// <summary>RLIMIT_NOFILE's usual soft limit.</summary>
    public const int MaxFiles = 1024;
    private const int FirstFreeFd = 3;

    private readonly List<KernelFile?> files = new() { null, null, null };
    private readonly Lock fileLock = new();

    private readonly IUserMemory? foreignMemory;
    private readonly IFileTable? foreignFiles;

    internal Process(HostKernel kernel, int pid)
    {
        Kernel = kernel;
        Pid = pid;
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
            files[fd] = null;
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
            for (int fd = files.Count - 1; fd >= FirstFreeFd; fd--)
            {
                if (files[fd] is { } f) closing.Add(f);
                files[fd] = null;
            }
        }
        foreach (var f in closing) f.Put();
    }

    /// <summary>Installs a file that the caller holds a reference to; the reference moves to the table.</summary>
    public int InstallFd(KernelFile file)
    {
        if (foreignFiles is not null) return foreignFiles.Install(file);
        lock (fileLock) return InstallFdLocked(file);
    }

    private int InstallFdLocked(KernelFile file)
    {
        for (int fd = FirstFreeFd; fd < files.Count; fd++)
        {
            if (files[fd] is null)
            {
                files[fd] = file;
                return fd;
            }
        }
        if (files.Count >= MaxFiles) return Errno.EMFILE.Neg();
        files.Add(file);
        return files.Count - 1;
    }

    /// <summary>fget: the file behind <paramref name="fd"/> with a new reference, or null.</summary>
    public KernelFile? Fget(int fd)
    {
        lock (fileLock)
        {
            var file = Lookup(fd);
            return file is not null && file.TryGet() ? file : null;
        }
    }

    /// <summary>The open descriptors and their files, lowest first.</summary>
    public IEnumerable<(int Fd, KernelFile File)> OpenFiles()
    {
        var open = new List<(int, KernelFile)>();
        lock (fileLock)
        {
            for (int fd = FirstFreeFd; fd < files.Count; fd++)
                if (files[fd] is { } f) open.Add((fd, f));
        }
        return open;
    }

    /// <summary>Under <c>tsmlab run</c>: a pin source over a real file of the program (IOAS_MAP_FILE), or null.</summary>
    internal Iommufd.IPinSource? ForeignFilePinSource(int fd, ulong startDown) => foreignFiles?.FilePinSource(fd, startDown);

    private KernelFile? Lookup(int fd) => foreignFiles is not null ? foreignFiles.Lookup(fd) : fd >= FirstFreeFd && fd < files.Count ? files[fd] : null;
}
