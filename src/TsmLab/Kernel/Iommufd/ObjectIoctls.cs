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
    /// not a device ENOENT; pt_id naming nothing EINVAL. An IOAS gives a paging HWPT
    /// (<see cref="PagingAlloc"/>); a paging HWPT a nested one (<see cref="NestedOnParent"/>); a
    /// vIOMMU of the device's IOMMU a nested one on it (<see cref="MockNestedAlloc"/>; another IOMMU's
    /// EINVAL); anything else EINVAL. Then IOMMU_HWPT_FAULT_ID_VALID attaches the fault queue
    /// fault_id (not one: ENOENT, the HWPT destroyed), which the HWPT holds.
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
        int rc;
        Hwpt? hwpt;
        switch (pt)
        {
            case Ioas ioas:
                rc = PagingAlloc(ref u, idev, ioas, flags, dataLen, out var paging);
                hwpt = paging;
                break;
            case HwPagetable parent:
                rc = NestedOnParent(ref u, idev, parent, flags, dataType, dataLen, out var onParent);
                hwpt = onParent;
                break;
            case Viommu v:
                if (v.Iommu != idev.IommuInstance) return Errno.EINVAL.Neg();
                if (v.ViommuType != IommuTestCmd.ViommuTypeSelftest) return Errno.EOPNOTSUPP.Neg();
                rc = MockNestedAlloc(ref u, v.Hwpt, v, flags, dataType, dataLen, out var onViommu);
                hwpt = onViommu;
                break;
            default:
                return Errno.EINVAL.Neg();
        }
        if (rc < 0) return rc;
        if ((flags & IommuHwptAlloc.FlagFaultIdValid) != 0)
        {
            var fault = u.Context.Get<FaultQueue>(BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuHwptAlloc.FaultId..]));
            if (fault is null)
            {
                u.Context.Abort(hwpt!);
                return Errno.ENOENT.Neg();
            }
            lock (u.Context.Gate)
            {
                hwpt!.Fault = fault;
                fault.Users++;
            }
        }
        BinaryPrimitives.WriteUInt32LittleEndian(u.Cmd[IommuHwptAlloc.OutHwptId..], hwpt!.Id);
        return RespondOrAbort(ref u, IommuHwptAlloc.SizeOf, hwpt);
    }

    /// <summary>
    /// <c>iommufd_hwpt_paging_alloc</c> and the driver's domain_alloc_paging_flags: a flag other than
    /// NEST_PARENT, DIRTY_TRACKING, FAULT_ID_VALID and PASID, or user data, EOPNOTSUPP (the
    /// platforms' modelled IOMMUs take only NEST_PARENT and DIRTY_TRACKING: TsmLab capabilities);
    /// DIRTY_TRACKING on a device without the capability EOPNOTSUPP; FAULT_ID_VALID with
    /// NEST_PARENT EOPNOTSUPP; then the domain joins the IOAS (<see cref="IoPagetable.AddDomain"/>:
    /// EINVAL, EADDRINUSE, EFAULT, ENOMEM).
    /// </summary>
    private static int PagingAlloc(ref IommufdUcmd u, IommufdDevice idev, Ioas ioas, uint flags, uint dataLen, out HwPagetable? hwpt)
    {
        hwpt = null;
        bool mock = idev.Mock is not null;
        uint valid = IommuHwptAlloc.FlagNestParent | IommuHwptAlloc.FlagDirtyTracking
            | (mock ? IommuHwptAlloc.FlagFaultIdValid | IommuHwptAlloc.FlagPasid : 0);
        bool dirty = (flags & IommuHwptAlloc.FlagDirtyTracking) != 0;
        if ((flags & ~valid) != 0 || dataLen != 0) return Errno.EOPNOTSUPP.Neg();
        // device_iommu_capable(IOMMU_CAP_DIRTY_TRACKING): only a mock device not made NO_DIRTY.
        if (dirty && !(idev.Mock?.DirtyCapable ?? idev.Driver.DirtyTracking)) return Errno.EOPNOTSUPP.Neg();
        if ((flags & IommuHwptAlloc.FlagFaultIdValid) != 0 && (flags & IommuHwptAlloc.FlagNestParent) != 0) return Errno.EOPNOTSUPP.Neg();
        if (Faults.FaultPlan.Fail(Faults.FaultPoint.Allocation, "HWPT")) return Errno.ENOMEM.Neg();
        var paging = new HwPagetable(ioas, (flags & IommuHwptAlloc.FlagNestParent) != 0, autoDomain: false, idev.IommuInstance)
        {
            DirtyOps = dirty,
            PasidCompat = (flags & IommuHwptAlloc.FlagPasid) != 0,
        };
        // iopt_table_add_domain: alignment, aperture, and the first domain pins every mapping.
        var iommu = idev.Driver;
        int rc = ioas.Iopt.AddDomain(paging, iommu.PageSize, iommu.ApertureStart, iommu.ApertureEnd);
        if (rc < 0) return rc;
        lock (u.Context.Gate)
        {
            ioas.Users++;
            u.Context.Add(paging);
        }
        hwpt = paging;
        return 0;
    }

    /// <summary>
    /// <c>iommufd_hwpt_nested_alloc</c> on a paging HWPT: a flag other than FAULT_ID_VALID and
    /// PASID, no data, or an IOMMU without nesting (every one but the mock IOMMU) EOPNOTSUPP; a
    /// parent that is an automatic domain, not a nest parent, or another IOMMU's EINVAL; then the
    /// mock's nested domain (<see cref="MockNestedAlloc"/>). The nested HWPT holds its parent.
    /// </summary>
    private static int NestedOnParent(ref IommufdUcmd u, IommufdDevice idev, HwPagetable parent, uint flags, uint dataType, uint dataLen, out HwptNested? nested)
    {
        nested = null;
        if ((flags & ~(IommuHwptAlloc.FlagFaultIdValid | IommuHwptAlloc.FlagPasid)) != 0 || dataLen == 0 || idev.Mock is null)
            return Errno.EOPNOTSUPP.Neg(); // no data, or no nesting modelled on the platforms' IOMMUs
        if (parent.AutoDomain || !parent.NestParent || parent.Iommu != idev.IommuInstance) return Errno.EINVAL.Neg();
        return MockNestedAlloc(ref u, parent, null, flags, dataType, dataLen, out nested);
    }

    /// <summary>
    /// The mock's nested domain (selftest.c <c>mock_domain_alloc_nested</c> on a paging parent,
    /// <c>mock_viommu_alloc_domain_nested</c> on the mock vIOMMU, both <c>__mock_domain_alloc_nested</c>):
    /// a flag other than FAULT_ID_VALID and PASID, or no data EOPNOTSUPP (the vIOMMU path's own
    /// check); data_type not IOMMU_HWPT_DATA_SELFTEST EOPNOTSUPP; the 4-byte
    /// <c>iommu_hwpt_selftest</c> read by <c>iommu_copy_struct_from_user</c> (include/linux/iommu.h):
    /// data_len below 4 or above it EINVAL, unreadable EFAULT. Every IOTLB entry starts as
    /// <c>iotlb</c>. The nested HWPT holds the vIOMMU (or, on a paging parent, the parent).
    /// </summary>
    private static int MockNestedAlloc(ref IommufdUcmd u, HwPagetable parent, Viommu? viommu, uint flags, uint dataType, uint dataLen, out HwptNested? nested)
    {
        nested = null;
        if ((flags & ~(IommuHwptAlloc.FlagFaultIdValid | IommuHwptAlloc.FlagPasid)) != 0 || dataLen == 0) return Errno.EOPNOTSUPP.Neg();
        if (dataType != IommuTestCmd.HwptDataSelftest) return Errno.EOPNOTSUPP.Neg();
        if (dataLen != IommuTestCmd.HwptSelftestSizeOf) return Errno.EINVAL.Neg();
        ulong uptr = BinaryPrimitives.ReadUInt64LittleEndian(u.Cmd[IommuHwptAlloc.DataUptr..]);
        Span<byte> data = stackalloc byte[(int)IommuTestCmd.HwptSelftestSizeOf];
        if (u.Caller.UserMemory.CopyFromUser(data, uptr) < 0) return Errno.EFAULT.Neg();
        if (Faults.FaultPlan.Fail(Faults.FaultPoint.Allocation, "HWPT nested")) return Errno.ENOMEM.Neg();
        nested = new HwptNested(parent, viommu, BinaryPrimitives.ReadUInt32LittleEndian(data)) { PasidCompat = (flags & IommuHwptAlloc.FlagPasid) != 0 };
        lock (u.Context.Gate)
        {
            if (viommu is not null) viommu.Users++;
            else parent.Users++;
            u.Context.Add(nested);
        }
        return 0;
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
