using TsmLab.Abi;

namespace TsmLab.Kernel.Iommufd;

/// <summary>
/// One iommufd ioctl in flight (<c>struct iommufd_ucmd</c>): the context, the caller, the user
/// pointer and size, and the kernel copy of the struct that the generic path validated.
/// </summary>
internal ref struct IommufdUcmd
{
    public IommufdContext Context;
    public Process Caller;
    public ulong UserPointer;
    public uint UserSize;
    /// <summary>The kernel's copy, exactly the kernel struct's size (shorter user structs zero-filled).</summary>
    public Span<byte> Cmd;

    /// <summary>
    /// <c>iommufd_ucmd_respond</c>: copies back min(user size, <paramref name="length"/>) bytes.
    /// 0 or -EFAULT.
    /// </summary>
    public readonly int Respond(int length)
    {
        int n = (int)Math.Min(UserSize, (uint)length);
        return Caller.UserMemory.CopyToUser(UserPointer, Cmd[..n]) < 0 ? Errno.EFAULT.Neg() : 0;
    }
}

/// <summary>An iommufd ioctl handler: sees only a validated command.</summary>
internal delegate int IommufdHandler(ref IommufdUcmd ucmd);
