using TsmLab.Abi;
using System.Buffers.Binary;

namespace TsmLab.Kernel.Iommufd;

/// <summary>
/// Handlers of the object ioctls (drivers/iommu/iommufd/{main,ioas,hw_pagetable,viommu}.c).
/// Each allocates only after every check passed and aborts the object if the copy-back faults,
/// so a failed ioctl leaves no trace.
/// </summary>
internal static class ObjectIoctls
{
    /// <summary>IOMMU_DESTROY: ENOENT, EBUSY (see <see cref="IommufdContext.Remove"/>).</summary>
    public static int Destroy(ref IommufdUcmd u) => u.Context.Remove(BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuDestroy.Id..]));

    /// <summary>IOMMU_IOAS_ALLOC: flags must be 0 (EOPNOTSUPP).</summary>
    public static int IoasAlloc(ref IommufdUcmd u)
    {
        if (BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuIoasAlloc.Flags..]) != 0) return Errno.EOPNOTSUPP.Neg();
        if (Faults.FaultPlan.Fail(Faults.FaultPoint.Allocation, "IOAS")) return Errno.ENOMEM.Neg();
        var ioas = new Ioas();
        u.Context.Add(ioas);
        BinaryPrimitives.WriteUInt32LittleEndian(u.Cmd[IommuIoasAlloc.OutIoasId..], ioas.Id);
        return RespondOrAbort(ref u, IommuIoasAlloc.SizeOf, ioas);
    }

    /// <summary>
    /// IOMMU_HWPT_ALLOC (hw_pagetable.c <c>iommufd_hwpt_alloc</c> [LI8]): <c>__reserved</c>
    /// EOPNOTSUPP; data_type NONE with data_len, or a data_type without data_len, EINVAL; dev_id
    /// not a device ENOENT; pt_id naming nothing EINVAL. An IOAS gives a paging HWPT: a flag other
    /// than NEST_PARENT and DIRTY_TRACKING (no IOPF or PASID modelled), or user data, EOPNOTSUPP;
    /// DIRTY_TRACKING on a device without the capability (all but a mock device not made NO_DIRTY) EOPNOTSUPP, then the domain joins the IOAS (<see cref="IoPagetable.AddDomain"/>: EINVAL,
    /// EADDRINUSE, EFAULT, ENOMEM). A paging HWPT or a vIOMMU as pt_id asks for a nested HWPT:
    /// EINVAL for a vIOMMU of another IOMMU instance, else EOPNOTSUPP (without data, as Linux; with
    /// data because TsmLab models no nesting). Anything else EINVAL.
    /// </summary>
    public static int HwptAlloc(ref IommufdUcmd u)
    {
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuHwptAlloc.Flags..]);
        if (BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuHwptAlloc.Reserved..]) != 0) return Errno.EOPNOTSUPP.Neg();
        uint dataType = BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuHwptAlloc.DataType..]);
        uint dataLen = BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuHwptAlloc.DataLen..]);
        if ((dataType == IommuHwptAlloc.DataNone) != (dataLen == 0)) return Errno.EINVAL.Neg();
        var idev = u.Context.Get<IommufdDevice>(BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuHwptAlloc.DevId..]));
        if (idev is null) return Errno.ENOENT.Neg();
        var pt = u.Context.GetAny(BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuHwptAlloc.PtId..]));
        switch (pt)
        {
            case null:
                return Errno.EINVAL.Neg();
            case HwPagetable:
                return Errno.EOPNOTSUPP.Neg(); // iommufd_hwpt_nested_alloc: no data, or no nesting modelled
            case Viommu v:
                if (v.Iommu != idev.IommuInstance) return Errno.EINVAL.Neg();
                if (v.ViommuType != IommuTestCmd.ViommuTypeSelftest) return Errno.EOPNOTSUPP.Neg();
                return MockNestedAlloc(ref u, v, flags, dataType, dataLen);
            case not Ioas:
                return Errno.EINVAL.Neg();
        }
        var ioas = (Ioas)pt;
        // iommufd_hwpt_paging_alloc, then the driver's domain_alloc_paging_flags (no user data, no dirty tracking/IOPF/PASID).
        bool dirty = (flags & IommuHwptAlloc.FlagDirtyTracking) != 0;
        if ((flags & ~(IommuHwptAlloc.FlagNestParent | IommuHwptAlloc.FlagDirtyTracking)) != 0 || dataLen != 0) return Errno.EOPNOTSUPP.Neg();
        // device_iommu_capable(IOMMU_CAP_DIRTY_TRACKING): only a mock device not made NO_DIRTY.
        if (dirty && !(idev.Mock?.DirtyCapable ?? idev.Driver.DirtyTracking)) return Errno.EOPNOTSUPP.Neg();
        if (Faults.FaultPlan.Fail(Faults.FaultPoint.Allocation, "HWPT")) return Errno.ENOMEM.Neg();
        var hwpt = new HwPagetable(ioas, (flags & IommuHwptAlloc.FlagNestParent) != 0, autoDomain: false, idev.IommuInstance) { DirtyOps = dirty };
        // iopt_table_add_domain: alignment, aperture, and the first domain pins every mapping.
        var iommu = idev.Driver;
        int rc = ioas.Iopt.AddDomain(hwpt, iommu.PageSize, iommu.ApertureStart, iommu.ApertureEnd);
        if (rc < 0) return rc;
        lock (u.Context.Gate)
        {
            ioas.Users++;
            u.Context.Add(hwpt);
        }
        BinaryPrimitives.WriteUInt32LittleEndian(u.Cmd[IommuHwptAlloc.OutHwptId..], hwpt.Id);
        return RespondOrAbort(ref u, IommuHwptAlloc.SizeOf, hwpt);
    }

    /// <summary>
    /// IOMMU_HWPT_ALLOC on a mock vIOMMU (hw_pagetable.c <c>iommufd_viommu_alloc_hwpt_nested</c>,
    /// selftest.c <c>mock_viommu_alloc_domain_nested</c>): a flag other than FAULT_ID_VALID and
    /// PASID EOPNOTSUPP; no data EOPNOTSUPP; data_type not IOMMU_HWPT_DATA_SELFTEST EOPNOTSUPP; the
    /// 4-byte <c>iommu_hwpt_selftest</c> read as copy_struct_from_user (shorter EINVAL, non-zero
    /// tail E2BIG, unreadable EFAULT). FAULT_ID_VALID needs a fault queue, which TsmLab does not
    /// model (TsmLab definition: EOPNOTSUPP). The nested HWPT holds a user of the vIOMMU.
    /// </summary>
    private static int MockNestedAlloc(ref IommufdUcmd u, Viommu viommu, uint flags, uint dataType, uint dataLen)
    {
        if ((flags & ~(IommuHwptAlloc.FlagFaultIdValid | IommuHwptAlloc.FlagPasid)) != 0 || dataLen == 0) return Errno.EOPNOTSUPP.Neg();
        if (dataType != IommuTestCmd.HwptDataSelftest || (flags & IommuHwptAlloc.FlagFaultIdValid) != 0) return Errno.EOPNOTSUPP.Neg();
        if (dataLen < IommuTestCmd.HwptSelftestSizeOf) return Errno.EINVAL.Neg();
        ulong uptr = BinaryPrimitives.ReadUInt64LittleEndian(u.Cmd[IommuHwptAlloc.DataUptr..]);
        Span<byte> data = stackalloc byte[(int)IommuTestCmd.HwptSelftestSizeOf];
        int rc = IommufdDispatch.CopyStructFromUser(u.Caller.UserMemory, data, uptr, dataLen);
        if (rc < 0) return rc;
        if (Faults.FaultPlan.Fail(Faults.FaultPoint.Allocation, "HWPT nested")) return Errno.ENOMEM.Neg();
        var nested = new HwptNested(viommu, BinaryPrimitives.ReadUInt32LittleEndian(data));
        lock (u.Context.Gate)
        {
            viommu.Users++;
            u.Context.Add(nested);
        }
        BinaryPrimitives.WriteUInt32LittleEndian(u.Cmd[IommuHwptAlloc.OutHwptId..], nested.Id);
        return RespondOrAbort(ref u, IommuHwptAlloc.SizeOf, nested);
    }

    /// <summary>
    /// IOMMU_VIOMMU_ALLOC (viommu.c): flags or type DEFAULT EOPNOTSUPP; dev_id ENOENT; a type
    /// the device's IOMMU does not implement EOPNOTSUPP; hwpt_id not a paging HWPT ENOENT; not a
    /// nest parent EINVAL; then TsmLab's rule from the v5 series, where the vIOMMU pins the KVM
    /// of its device: a device whose VFIO file was never added to a KVM VM is ENODEV.
    /// </summary>
    public static int ViommuAlloc(ref IommufdUcmd u)
    {
        uint type = BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuViommuAlloc.Type..]);
        if (BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuViommuAlloc.Flags..]) != 0 || type == IommuViommuAlloc.TypeDefault) return Errno.EOPNOTSUPP.Neg();
        var idev = u.Context.Get<IommufdDevice>(BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuViommuAlloc.DevId..]));
        if (idev is null) return Errno.ENOENT.Neg();
        if (!idev.Driver.SupportsViommuType(type)) return Errno.EOPNOTSUPP.Neg();
        var hwpt = u.Context.Get<HwPagetable>(BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuViommuAlloc.HwptId..]));
        if (hwpt is null) return Errno.ENOENT.Neg();
        if (!hwpt.NestParent) return Errno.EINVAL.Neg();
        bool mock = idev.Mock is not null;
        // mock_viommu_init with user data copies it and maps two pages for the caller to mmap, which
        // TsmLab does not serve (TsmLab definition: EOPNOTSUPP).
        if (mock && BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuViommuAlloc.DataLen..]) != 0) return Errno.EOPNOTSUPP.Neg();
        // The KVM rule is the v5 series' for the TSM path; the mock vIOMMU (selftest.c) pins none.
        if (idev.Kvm is null && !mock) return Errno.ENODEV.Neg();
        if (Faults.FaultPlan.Fail(Faults.FaultPoint.Allocation, "vIOMMU")) return Errno.ENOMEM.Neg();
        var viommu = new Viommu(hwpt, type, idev.Kvm, idev.IommuInstance);
        lock (u.Context.Gate)
        {
            hwpt.Users++;
            idev.Kvm?.Get();
            u.Context.Add(viommu);
        }
        BinaryPrimitives.WriteUInt32LittleEndian(u.Cmd[IommuViommuAlloc.OutViommuId..], viommu.Id);
        return RespondOrAbort(ref u, IommuViommuAlloc.SizeOf, viommu);
    }

    /// <summary>
    /// IOMMU_VDEVICE_ALLOC (viommu.c): viommu_id ENOENT; dev_id ENOENT; device behind another
    /// IOMMU instance EINVAL; the device has a vDevice already EEXIST; virt_id taken on this
    /// vIOMMU EEXIST.
    /// </summary>
    public static int VdeviceAlloc(ref IommufdUcmd u)
    {
        var viommu = u.Context.Get<Viommu>(BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuVdeviceAlloc.ViommuId..]));
        if (viommu is null) return Errno.ENOENT.Neg();
        var idev = u.Context.Get<IommufdDevice>(BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuVdeviceAlloc.DevId..]));
        if (idev is null) return Errno.ENOENT.Neg();
        // A device without a PCI function is a mock device; only the mock vIOMMU (no KVM, so no TSM path) takes it.
        if (viommu.Iommu != idev.IommuInstance || (idev.Function is null && viommu.Kvm is not null)) return Errno.EINVAL.Neg();
        ulong virtId = BinaryPrimitives.ReadUInt64LittleEndian(u.Cmd[IommuVdeviceAlloc.VirtId..]);
        if (Faults.FaultPlan.Fail(Faults.FaultPoint.Allocation, "vDevice")) return Errno.ENOMEM.Neg();
        Vdevice vdev;
        // Check and link under the context's lock: two threads allocating on one device or virt_id race here.
        lock (u.Context.Gate)
        {
            if (idev.Vdevice is not null || viommu.Vdevs.ContainsKey(virtId)) return Errno.EEXIST.Neg();
            vdev = new Vdevice(viommu, idev, virtId);
            viommu.Users++;
            idev.Users++;
            idev.Vdevice = vdev;
            viommu.Vdevs.Add(virtId, vdev);
            u.Context.Add(vdev);
        }
        BinaryPrimitives.WriteUInt32LittleEndian(u.Cmd[IommuVdeviceAlloc.OutVdeviceId..], vdev.Id);
        return RespondOrAbort(ref u, IommuVdeviceAlloc.SizeOf, vdev);
    }

    private static int RespondOrAbort(ref IommufdUcmd u, int size, IommufdObject created)
    {
        int rc = u.Respond(size);
        if (rc < 0) u.Context.Abort(created);
        return rc;
    }
}
