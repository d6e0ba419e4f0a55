using System.Buffers.Binary;
using TsmLab.Abi;

namespace TsmLab.Kernel.Iommufd;

/// <summary>
/// IOMMU_GET_HW_INFO (drivers/iommu/iommufd/device.c <c>iommufd_get_hw_info</c> [LI6]): the
/// host IOMMU's hw_info type and data for a bound device, as the platform's
/// <see cref="HostIommu"/> declares them.
/// </summary>
internal static class HwInfoIoctl
{
    /// <summary>
    /// Flags other than INPUT_TYPE EOPNOTSUPP; <c>__reserved</c> bytes EOPNOTSUPP; without
    /// INPUT_TYPE the type field is cleared; dev_id not a device ENOENT; an input type the IOMMU
    /// does not report EOPNOTSUPP (the driver's answer); the data copied to data_uptr up to
    /// data_len (EFAULT) and the rest of the caller's buffer zeroed (EFAULT); data_len becomes the
    /// kernel's length, out_data_type the type, out_capabilities DIRTY_TRACKING when the IOMMU has
    /// it (a mock device: unless made NO_DIRTY), out_max_pasid_log2 0 (a mock device made with PASID: MOCK_PASID_WIDTH 20, its pasid-num-bits); the struct copied back (EFAULT).
    /// </summary>
    public static int GetHwInfo(ref IommufdUcmd u)
    {
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuHwInfo.Flags..]);
        if ((flags & ~IommuHwInfo.FlagInputType) != 0) return Errno.EOPNOTSUPP.Neg();
        if (u.Cmd[IommuHwInfo.Reserved] != 0 || u.Cmd[IommuHwInfo.Reserved + 1] != 0 || u.Cmd[IommuHwInfo.Reserved + 2] != 0)
            return Errno.EOPNOTSUPP.Neg();
        uint inType = (flags & IommuHwInfo.FlagInputType) != 0 ? BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuHwInfo.DataType..]) : IommuHwInfo.TypeNone;
        var idev = u.Context.Get<IommufdDevice>(BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuHwInfo.DevId..]));
        if (idev is null) return Errno.ENOENT.Neg();
        var iommu = idev.Driver;
        if (inType != IommuHwInfo.TypeNone && inType != iommu.HwInfoType) return Errno.EOPNOTSUPP.Neg();

        uint userLen = BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuHwInfo.DataLen..]);
        ulong uptr = BinaryPrimitives.ReadUInt64LittleEndian(u.Cmd[IommuHwInfo.DataUptr..]);
        var data = iommu.HwInfo is byte[] a ? a : iommu.HwInfo.ToArray();
        int copy = (int)Math.Min(userLen, (uint)data.Length);
        if (u.Caller.UserMemory.CopyToUser(uptr, data.AsSpan(0, copy)) < 0) return Errno.EFAULT.Neg();
        if ((uint)copy < userLen)
        {
            int rc = ZeroUser(u.Caller.UserMemory, uptr + (ulong)copy, userLen - (uint)copy);
            if (rc < 0) return rc;
        }
        BinaryPrimitives.WriteUInt32LittleEndian(u.Cmd[IommuHwInfo.DataLen..], (uint)data.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(u.Cmd[IommuHwInfo.DataType..], iommu.HwInfoType);
        u.Cmd[IommuHwInfo.OutMaxPasidLog2] = idev.Mock?.PasidBits ?? 0;
        bool dirty = idev.Mock is { } mock ? mock.DirtyCapable : iommu.DirtyTracking;
        BinaryPrimitives.WriteUInt64LittleEndian(u.Cmd[IommuHwInfo.OutCapabilities..], dirty ? IommuHwInfo.CapDirtyTracking : 0);
        return u.Respond(IommuHwInfo.SizeOf);
    }

    /// <summary><c>clear_user</c> one page at a time: 0 or -EFAULT.</summary>
    private static int ZeroUser(IUserMemory memory, ulong at, uint length)
    {
        Span<byte> zeros = stackalloc byte[AddressSpace.PageSize];
        zeros.Clear();
        while (length > 0)
        {
            int n = (int)Math.Min(length, (uint)zeros.Length);
            if (memory.CopyToUser(at, zeros[..n]) < 0) return Errno.EFAULT.Neg();
            at += (ulong)n;
            length -= (uint)n;
        }
        return 0;
    }
}
