namespace TsmLab.Kernel;

/// <summary>
/// A process's user memory as the kernel side sees it: copy_from_user, copy_to_user and
/// get_user, each 0 or -EFAULT exactly where Linux would fault. Two implementations: the
/// model's in-process <see cref="AddressSpace"/>, and a real program's memory reached with
/// process_vm_readv/process_vm_writev (<see cref="Linux.ProcessMemory"/>, used by <c>tsmlab run</c>).
/// </summary>
public interface IUserMemory
{
    /// <summary>copy_from_user: 0, or -EFAULT if any byte of the source cannot be read.</summary>
    int CopyFromUser(Span<byte> destination, ulong source);

    /// <summary>copy_to_user: 0, or -EFAULT at the first byte that cannot be written (bytes before it are written).</summary>
    int CopyToUser(ulong destination, ReadOnlySpan<byte> source);

    /// <summary>get_user of a u32: 0, or -EFAULT.</summary>
    int GetUser32(ulong addr, out uint value);

    /// <summary>
    /// Whether <c>pin_user_pages(FOLL_LONGTERM)</c> of [addr, addr + length) would succeed: 0 when
    /// every page is mapped readable (and writable when <paramref name="write"/>, FOLL_WRITE), else
    /// -EFAULT. Used by iommufd when it pins a mapping into an IOMMU domain.
    /// </summary>
    int CheckPinnable(ulong addr, ulong length, bool write);

    /// <summary>
    /// The memory of the process (mm) making the current call, fixed: what <c>source_mm</c> keeps
    /// for pages mapped now and pinned later, whoever asks then. Where one object serves every
    /// process of a program (<c>tsmlab run</c>), pinning checks go to this mm, so pages of a
    /// process that has exited can no longer be pinned (EFAULT). The model's own memory is itself.
    /// </summary>
    IUserMemory OfThisMm() => this;

    /// <summary>
    /// The file and file offset backing the byte at <paramref name="addr"/> when a file mapping
    /// holds it (/proc/PID/maps); false for anonymous memory, an unmapped address, or memory the
    /// model does not know the backing of.
    /// </summary>
    bool TryGetFileBacking(ulong addr, out FileIdentity file, out ulong offset)
    {
        file = default;
        offset = 0;
        return false;
    }
}
