using System.Buffers.Binary;
using TsmLab.Abi;

namespace TsmLab.Kernel.Iommufd.Selftest;

/// <summary>
/// The mock driver's PASID ops of <c>IOMMU_TEST_CMD</c> (selftest.c <c>iommufd_test_pasid_attach</c>,
/// <c>_replace</c>, <c>_detach</c>, <c>_check_hwpt</c>) [LI10]: cmd->id is a selftest object (else
/// ENOENT) whose mock device's PASID is attached through the core's rules
/// (<see cref="IommufdContext.PasidAttach"/>). Rows in <see cref="TestCmd"/>'s op table.
/// </summary>
internal static class PasidOps
{
    /// <summary>PASID_ATTACH: <see cref="IommufdContext.PasidAttach"/>; pt_id written back (EFAULT detaches again).</summary>
    public static int Attach(ref IommufdUcmd u) => Change(ref u, replace: false);

    /// <summary>PASID_REPLACE: <see cref="IommufdContext.PasidAttach"/> as a replace; nothing is written back.</summary>
    public static int Replace(ref IommufdUcmd u) => Change(ref u, replace: true);

    /// <summary>PASID_DETACH: detaches whatever the PASID has (nothing is no error).</summary>
    public static int Detach(ref IommufdUcmd u)
    {
        if (Device(ref u) is not { } idev) return Errno.ENOENT.Neg();
        u.Context.PasidDetach(idev, BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuTestCmd.PasidPasid..]));
        return 0;
    }

    /// <summary>
    /// PASID_CHECK_HWPT: hwpt_id 0 asks that nothing is attached (else EINVAL); otherwise hwpt_id
    /// naming nothing ENOENT, not a HWPT EINVAL, not the HWPT the PASID is attached to EINVAL.
    /// </summary>
    public static int CheckHwpt(ref IommufdUcmd u)
    {
        if (Device(ref u) is not { } idev) return Errno.ENOENT.Neg();
        var attached = u.Context.PasidHwpt(idev, BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuTestCmd.PasidPasid..]));
        uint hwptId = BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuTestCmd.PasidPtId..]);
        if (hwptId == 0) return attached is null ? 0 : Errno.EINVAL.Neg();
        return u.Context.GetAny(hwptId) switch
        {
            null => Errno.ENOENT.Neg(),
            Hwpt h => ReferenceEquals(h, attached) ? 0 : Errno.EINVAL.Neg(),
            _ => Errno.EINVAL.Neg(),
        };
    }

    private static int Change(ref IommufdUcmd u, bool replace)
    {
        if (Device(ref u) is not { } idev) return Errno.ENOENT.Neg();
        uint pasid = BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuTestCmd.PasidPasid..]);
        int rc = u.Context.PasidAttach(idev, pasid, BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuTestCmd.PasidPtId..]), replace, out uint hwptId);
        if (rc < 0 || replace) return rc;
        BinaryPrimitives.WriteUInt32LittleEndian(u.Cmd[IommuTestCmd.PasidPtId..], hwptId);
        rc = u.Respond(IommuTestCmd.SizeOf);
        if (rc < 0) u.Context.PasidDetach(idev, pasid);
        return rc;
    }

    private static IommufdDevice? Device(ref IommufdUcmd u) =>
        u.Context.Get<SelftestObject>(BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuTestCmd.Id..]))?.Idev;
}
