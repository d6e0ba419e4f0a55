using TsmLab.Abi;

namespace TsmLab.Kernel.Iommufd;

/// <summary>
/// The one generic entry of every iommufd ioctl (<c>iommufd_fops_ioctl</c>), applying Linux's
/// rules in Linux's order so handlers only say what is special about them:
/// nr outside the table goes to the VFIO compatibility ioctls (<see cref="VfioCompat"/>, ENOTTY for
/// anything else); the leading u32 size
/// unreadable EFAULT; the row's full number differs from cmd (or the row is empty) ENOTTY;
/// size below the minimum EINVAL; then copy_struct_from_user: a shorter struct is zero-filled,
/// a longer one must have an all-zero tail (E2BIG; EFAULT on fault), and the struct is copied
/// (EFAULT). The handler's return value is the ioctl's.
/// </summary>
internal static class IommufdDispatch
{
    /// <summary>Largest kernel struct in the table (struct iommu_test_cmd, 72 bytes; a test keeps every row within it).</summary>
    internal const int MaxStruct = 72;

    public static int Dispatch(IommufdContext ctx, Process caller, uint cmd, ulong arg)
    {
        if (!ctx.Table.TryGetRow(IoctlEncoding.Nr(cmd), out var row)) return VfioCompat.Ioctl(ctx, caller, cmd, arg);
        var memory = caller.UserMemory;
        if (memory.GetUser32(arg, out uint userSize) < 0) return Errno.EFAULT.Neg();
        if (row is null || row.Number != cmd) return Errno.ENOTTY.Neg();
        if (userSize < (uint)row.Struct.MinSize) return Errno.EINVAL.Neg();

        Span<byte> buffer = stackalloc byte[MaxStruct];
        var kernelStruct = buffer[..row.Struct.Size];
        kernelStruct.Clear();
        int rc = CopyStructFromUser(memory, kernelStruct, arg, userSize);
        if (rc < 0) return rc;

        var ucmd = new IommufdUcmd { Context = ctx, Caller = caller, UserPointer = arg, UserSize = userSize, Cmd = kernelStruct };
        // Objects the handler looks up are held short-term until it returns.
        int mark = IommufdContext.BeginCall();
        try { return row.Handler(ref ucmd); }
        finally { IommufdContext.EndCall(mark); }
    }

    /// <summary>include/linux/uaccess.h <c>copy_struct_from_user</c>.</summary>
    internal static int CopyStructFromUser(IUserMemory memory, Span<byte> kernelStruct, ulong src, uint userSize)
    {
        uint ksize = (uint)kernelStruct.Length;
        if (userSize > ksize)
        {
            int z = CheckZeroedUser(memory, src + ksize, userSize - ksize);
            if (z < 0) return z;
            if (z == 0) return Errno.E2BIG.Neg();
        }
        int n = (int)Math.Min(ksize, userSize);
        return memory.CopyFromUser(kernelStruct[..n], src) < 0 ? Errno.EFAULT.Neg() : 0;
    }

    /// <summary><c>check_zeroed_user</c>: 1 all zero, 0 a non-zero byte (before any fault), -EFAULT.</summary>
    private static int CheckZeroedUser(IUserMemory memory, ulong from, uint length)
    {
        Span<byte> chunk = stackalloc byte[AddressSpace.PageSize]; // one read per page (a real program's memory costs a syscall per read)
        while (length > 0)
        {
            int n = (int)Math.Min(length, (uint)chunk.Length);
            // Read page-bounded pieces so a fault after a non-zero byte is not reported first.
            int toPage = AddressSpace.PageSize - (int)(from & (AddressSpace.PageSize - 1));
            n = Math.Min(n, toPage);
            if (memory.CopyFromUser(chunk[..n], from) < 0) return Errno.EFAULT.Neg();
            if (chunk[..n].ContainsAnyExcept((byte)0)) return 0;
            from += (ulong)n;
            length -= (uint)n;
        }
        return 1;
    }
}
