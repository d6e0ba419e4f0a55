using TsmLab.Abi;

namespace TsmLab.Kernel;

/// <summary>
/// An anonymous shared-memory file (memfd_create(2), a shmem file): what a VMM backs guest RAM
/// with and hands to IOMMU_IOAS_MAP_FILE. The model keeps its size (ftruncate), not its
/// contents: iommufd only needs to know which pages exist to pin them (shmem answers EINVAL
/// for a page at or past the end of the file). Created by <see cref="Create"/>, which installs it
/// in the process's fd table.
/// </summary>
public sealed class MemfdFile : KernelFile
{
    private long size;

    private MemfdFile(string name) => Name = "/memfd:" + name;

    public override string Name { get; }

    /// <summary>st_size.</summary>
    public ulong Size => (ulong)Interlocked.Read(ref size);

    /// <summary>memfd_create: the new fd (lowest free), or -EMFILE.</summary>
    public static int Create(Process process, string name, out MemfdFile file)
    {
        file = new MemfdFile(name);
        int fd = process.InstallFd(file);
        if (fd < 0) file.Put();
        return fd;
    }

    /// <summary>ftruncate: 0, or -EINVAL for a size above the largest file offset.</summary>
    public int Truncate(ulong length)
    {
        if (length > long.MaxValue) return Errno.EINVAL.Neg();
        Interlocked.Exchange(ref size, (long)length);
        return 0;
    }
}
