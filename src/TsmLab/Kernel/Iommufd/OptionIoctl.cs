using System.Buffers.Binary;
using TsmLab.Abi;

namespace TsmLab.Kernel.Iommufd;

/// <summary>
/// IOMMU_OPTION (drivers/iommu/iommufd/main.c <c>iommufd_option</c> [LI2], ioas.c [LI3]): the
/// global RLIMIT_MODE and the per-IOAS HUGE_PAGES, each with GET and SET. On success only
/// <c>val64</c> is copied back (EFAULT).
/// </summary>
internal static class OptionIoctl
{
    /// <summary>
    /// <c>__reserved</c> EOPNOTSUPP; RLIMIT_MODE: object_id ≠ 0 EOPNOTSUPP; GET gives 1 for
    /// per-process accounting; SET without CAP_SYS_RESOURCE EPERM, with any object in the context
    /// EBUSY, a value other than 0/1 EINVAL. HUGE_PAGES: object_id not an IOAS ENOENT; GET gives 1
    /// unless disabled; SET 0 disables (EINVAL once domains hold mappings, EADDRINUSE when a mapping
    /// does not fit PAGE_SIZE), 1 enables, another value EINVAL. Another op or option EOPNOTSUPP.
    /// </summary>
    public static int Option(ref IommufdUcmd u)
    {
        if (BinaryPrimitives.ReadUInt16LittleEndian(u.Cmd[IommuOption.Reserved..]) != 0) return Errno.EOPNOTSUPP.Neg();
        uint option = BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuOption.OptionId..]);
        ushort op = BinaryPrimitives.ReadUInt16LittleEndian(u.Cmd[IommuOption.Op..]);
        uint objectId = BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuOption.ObjectId..]);
        ulong val = BinaryPrimitives.ReadUInt64LittleEndian(u.Cmd[IommuOption.Val64..]);
        int rc = option switch
        {
            IommuOption.RlimitMode => RlimitMode(ref u, op, objectId, ref val),
            IommuOption.HugePages => HugePages(ref u, op, objectId, ref val),
            _ => Errno.EOPNOTSUPP.Neg(),
        };
        if (rc < 0) return rc;
        Span<byte> v = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(v, val);
        return u.Caller.UserMemory.CopyToUser(u.UserPointer + IommuOption.Val64, v) < 0 ? Errno.EFAULT.Neg() : 0;
    }

    private static int RlimitMode(ref IommufdUcmd u, ushort op, uint objectId, ref ulong val)
    {
        if (objectId != 0) return Errno.EOPNOTSUPP.Neg();
        if (op == IommuOption.OpGet)
        {
            val = u.Context.AccountPerProcess ? 1ul : 0ul;
            return 0;
        }
        if (op != IommuOption.OpSet) return Errno.EOPNOTSUPP.Neg();
        if (!u.Caller.Limits.CapSysResource) return Errno.EPERM.Neg();
        lock (u.Context.Gate)
        {
            if (!u.Context.IsEmpty) return Errno.EBUSY.Neg();
            if (val > 1) return Errno.EINVAL.Neg();
            u.Context.AccountPerProcess = val == 1;
            return 0;
        }
    }

    private static int HugePages(ref IommufdUcmd u, ushort op, uint objectId, ref ulong val)
    {
        var ioas = u.Context.Get<Ioas>(objectId);
        if (ioas is null) return Errno.ENOENT.Neg();
        if (op == IommuOption.OpGet)
        {
            val = ioas.Iopt.LargePagesDisabled ? 0ul : 1ul;
            return 0;
        }
        if (op != IommuOption.OpSet) return Errno.EOPNOTSUPP.Neg();
        return val switch
        {
            0 => ioas.Iopt.SetLargePages(enable: false),
            1 => ioas.Iopt.SetLargePages(enable: true),
            _ => Errno.EINVAL.Neg(),
        };
    }
}
