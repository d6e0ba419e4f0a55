using System.Buffers.Binary;
using TsmLab.Abi;

namespace TsmLab.Kernel.Iommufd.Selftest;

/// <summary>
/// The mock driver's event sources of <c>IOMMU_TEST_CMD</c> (selftest.c <c>iommufd_test_trigger_iopf</c>
/// and <c>iommufd_test_trigger_vevent</c>) [LI10]: a page fault reported for a device, which the
/// fault queue of the HWPT it hits receives (<see cref="FaultQueue"/>), and a vEVENT of the mock
/// vIOMMU, which its IOMMU_VEVENTQ_TYPE_SELFTEST queue receives (<see cref="Veventq"/>). Rows in
/// <see cref="TestCmd"/>'s op table.
/// </summary>
internal static class TriggerOps
{
    /// <summary>
    /// TRIGGER_IOPF: dev_id not a device ENOENT; else the fault is reported as
    /// <c>iommu_report_device_fault</c> does and the op answers 0 whatever happens to it: flags
    /// LAST_PAGE, and PASID_VALID for a PASID other than 0; the HWPT hit is the PASID's (or, as the
    /// mock IOMMU keeps a user PASID table, the RID's when that is a nested HWPT), else the RID's
    /// for PASID 0; a fault that hits no HWPT with a fault queue is dropped.
    /// </summary>
    public static int TriggerIopf(ref IommufdUcmd u)
    {
        var idev = u.Context.Get<IommufdDevice>(BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuTestCmd.TriggerIopfDevId..]));
        if (idev is null) return Errno.ENOENT.Neg();
        uint pasid = BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuTestCmd.TriggerIopfPasid..]);
        uint flags = FaultQueue.FlagLastPage | (pasid != 0 ? FaultQueue.FlagPasidValid : 0);
        Hwpt? hwpt = u.Context.PasidHwpt(idev, pasid);
        // find_fault_handler: a PASID with no handle goes to the RID's nested domain when the driver has a user PASID table.
        if (hwpt is null && pasid != 0 && u.Context.PasidHwpt(idev, 0) is HwptNested rid && idev.Mock is not null) hwpt = rid;
        if (hwpt?.Fault is { } fault)
            fault.Report(new FaultQueue.Fault(flags, idev.Id, pasid,
                BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuTestCmd.TriggerIopfGrpid..]),
                BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuTestCmd.TriggerIopfPerm..]),
                BinaryPrimitives.ReadUInt64LittleEndian(u.Cmd[IommuTestCmd.TriggerIopfAddr..])));
        return 0;
    }

    /// <summary>
    /// TRIGGER_VEVENT: dev_id not a device ENOENT; a device that is not a mock one EINVAL (TsmLab
    /// definition: the kernel assumes a mock device); a mock device whose RID is not attached to a
    /// nested HWPT of a vIOMMU on which it has a vDevice ENOENT; no IOMMU_VEVENTQ_TYPE_SELFTEST queue
    /// on that vIOMMU EOPNOTSUPP; else a vEVENT whose data is the vDevice's virt_id (u32).
    /// </summary>
    public static int TriggerVevent(ref IommufdUcmd u)
    {
        var idev = u.Context.Get<IommufdDevice>(BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuTestCmd.TriggerVeventDevId..]));
        if (idev is null) return Errno.ENOENT.Neg();
        if (idev.Mock is not { } mock) return Errno.EINVAL.Neg();
        Veventq? queue;
        uint virtId;
        lock (u.Context.Gate)
        {
            if (mock.Viommu is not { } viommu || mock.VdevId == 0) return Errno.ENOENT.Neg();
            if (!viommu.Veventqs.TryGetValue(IommuTestCmd.VeventqTypeSelftest, out queue)) return Errno.EOPNOTSUPP.Neg();
            virtId = (uint)mock.VdevId;
        }
        Span<byte> data = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(data, virtId);
        queue.Report(data);
        return 0;
    }
}
