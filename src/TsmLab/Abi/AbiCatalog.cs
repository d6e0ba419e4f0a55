namespace TsmLab.Abi;

/// <summary>
/// Every ioctl TsmLab models, per ABI profile: the one list <c>tsmlab abi</c> prints and the
/// iommufd dispatch table is built from (numbers, names and structs live only here).
/// </summary>
public static class AbiCatalog
{
    private const string IommufdH = "include/uapi/linux/iommufd.h";
    private const string VfioH = "include/uapi/linux/vfio.h";
    private const string KvmH = "include/uapi/linux/kvm.h";

    private static readonly IReadOnlyList<AbiIoctl> OpArchIoctls = Build(TsmAbiProfile.OpArch);
    private static readonly IReadOnlyList<AbiIoctl> ScopeIoctls = Build(TsmAbiProfile.Scope);

    /// <summary>The iommufd ioctls (on /dev/iommu) of a profile, by number.</summary>
    public static IReadOnlyList<AbiIoctl> Iommufd(TsmAbiProfile profile) =>
    [
        new("IOMMU_DESTROY", IommufdIoctl.Destroy, "/dev/iommu", IommuDestroy.Layout, IommufdH),
        new("IOMMU_IOAS_ALLOC", IommufdIoctl.IoasAlloc, "/dev/iommu", IommuIoasAlloc.Layout, IommufdH),
        new("IOMMU_IOAS_ALLOW_IOVAS", IommufdIoctl.IoasAllowIovas, "/dev/iommu", IommuIoasAllowIovas.Layout, IommufdH),
        new("IOMMU_IOAS_COPY", IommufdIoctl.IoasCopy, "/dev/iommu", IommuIoasCopy.Layout, IommufdH),
        new("IOMMU_IOAS_IOVA_RANGES", IommufdIoctl.IoasIovaRanges, "/dev/iommu", IommuIoasIovaRanges.Layout, IommufdH),
        new("IOMMU_IOAS_MAP", IommufdIoctl.IoasMap, "/dev/iommu", IommuIoasMap.Layout, IommufdH),
        new("IOMMU_IOAS_UNMAP", IommufdIoctl.IoasUnmap, "/dev/iommu", IommuIoasUnmap.Layout, IommufdH),
        new("IOMMU_OPTION", IommufdIoctl.Option, "/dev/iommu", IommuOption.Layout, IommufdH),
        new("IOMMU_VFIO_IOAS", IommufdIoctl.VfioIoas, "/dev/iommu", IommuVfioIoas.Layout, IommufdH),
        new("IOMMU_HWPT_ALLOC", IommufdIoctl.HwptAlloc, "/dev/iommu", IommuHwptAlloc.Layout, IommufdH),
        new("IOMMU_GET_HW_INFO", IommufdIoctl.GetHwInfo, "/dev/iommu", IommuHwInfo.Layout, IommufdH),
        new("IOMMU_HWPT_SET_DIRTY_TRACKING", IommufdIoctl.HwptSetDirtyTracking, "/dev/iommu", IommuHwptSetDirtyTracking.Layout, IommufdH),
        new("IOMMU_HWPT_GET_DIRTY_BITMAP", IommufdIoctl.HwptGetDirtyBitmap, "/dev/iommu", IommuHwptGetDirtyBitmap.Layout, IommufdH),
        new("IOMMU_HWPT_INVALIDATE", IommufdIoctl.HwptInvalidate, "/dev/iommu", IommuHwptInvalidate.Layout, IommufdH),
        new("IOMMU_FAULT_QUEUE_ALLOC", IommufdIoctl.FaultQueueAlloc, "/dev/iommu", IommuFaultAlloc.Layout, IommufdH),
        new("IOMMU_IOAS_MAP_FILE", IommufdIoctl.IoasMapFile, "/dev/iommu", IommuIoasMapFile.Layout, IommufdH),
        new("IOMMU_VIOMMU_ALLOC", IommufdIoctl.ViommuAlloc, "/dev/iommu", IommuViommuAlloc.Layout, IommufdH),
        new("IOMMU_VDEVICE_ALLOC", IommufdIoctl.VdeviceAlloc, "/dev/iommu", IommuVdeviceAlloc.Layout, IommufdH),
        new("IOMMU_IOAS_CHANGE_PROCESS", IommufdIoctl.IoasChangeProcess, "/dev/iommu", IommuIoasChangeProcess.Layout, IommufdH),
        new("IOMMU_VEVENTQ_ALLOC", IommufdIoctl.VeventqAlloc, "/dev/iommu", IommuVeventqAlloc.Layout, IommufdH),
        new("IOMMU_HW_QUEUE_ALLOC", IommufdIoctl.HwQueueAlloc, "/dev/iommu", IommuHwQueueAlloc.Layout, IommufdH),
        new("IOMMU_VDEVICE_TSM_OP", IommufdIoctl.VdeviceTsmOp, "/dev/iommu", IommuVdeviceTsmOp.Layout,
            "[PATCH v5] iommufd/tsm: add vdevice TSM bind/unbind ioctl (2026-05-25)"),
        profile == TsmAbiProfile.Scope
            ? new("IOMMU_VDEVICE_TSM_REQ", IommufdIoctl.VdeviceTsmReq, "/dev/iommu", IommuVdeviceTsmReqScope.Layout,
                "[PATCH v5 5/5] iommufd/vdevice: add TSM request ioctl (2026-05-25)")
            : new("IOMMU_VDEVICE_TSM_REQ", IommufdIoctl.VdeviceTsmReq, "/dev/iommu", IommuVdeviceTsmReqOpArch.Layout,
                "Re: [PATCH v5 5/5] op/tvm_arch proposal (2026-06-02); kamalca tree iommufd.h"),
        new("IOMMU_VDEVICE_TSM_INFO", IommufdIoctl.VdeviceTsmInfo, "/dev/iommu", IommuVdeviceTsmInfo.Layout,
            "TsmLab extension (docs/abi.md)"),
    ];

    /// <summary>The iommufd ioctls a kernel built with CONFIG_IOMMUFD_TEST adds: IOMMU_TEST_CMD, the selftests' mock driver.</summary>
    public static IReadOnlyList<AbiIoctl> IommufdSelftest { get; } =
    [
        new("IOMMU_TEST_CMD", IommuTestCmd.Number, "/dev/iommu", IommuTestCmd.Layout, "drivers/iommu/iommufd/iommufd_test.h (CONFIG_IOMMUFD_TEST)"),
    ];

    /// <summary>Every modelled ioctl of a profile: iommufd, then VFIO cdev, then KVM (built once per profile).</summary>
    public static IReadOnlyList<AbiIoctl> Ioctls(TsmAbiProfile profile) => profile == TsmAbiProfile.Scope ? ScopeIoctls : OpArchIoctls;

    /// <summary>The ioctl with that full number in a profile, or null.</summary>
    public static AbiIoctl? Find(TsmAbiProfile profile, uint number)
    {
        foreach (var i in Ioctls(profile))
            if (i.Number == number) return i;
        return null;
    }

    private static IReadOnlyList<AbiIoctl> Build(TsmAbiProfile profile) =>
    [
        .. Iommufd(profile),
        new("VFIO_IOMMU_GET_INFO", VfioContainerIoctl.IommuGetInfo, "/dev/iommu (VFIO compatibility)", VfioIommuType1Info.Layout, VfioH),
        new("VFIO_IOMMU_MAP_DMA", VfioContainerIoctl.IommuMapDma, "/dev/iommu (VFIO compatibility)", VfioIommuType1DmaMap.Layout, VfioH),
        new("VFIO_IOMMU_UNMAP_DMA", VfioContainerIoctl.IommuUnmapDma, "/dev/iommu (VFIO compatibility)", VfioIommuType1DmaUnmap.Layout, VfioH),
        new("VFIO_DEVICE_BIND_IOMMUFD", VfioIoctl.DeviceBindIommufd, "/dev/vfio/devices/vfioN", VfioDeviceBindIommufd.Layout, VfioH),
        new("VFIO_DEVICE_ATTACH_IOMMUFD_PT", VfioIoctl.DeviceAttachIommufdPt, "/dev/vfio/devices/vfioN", VfioDeviceAttachIommufdPt.Layout, VfioH),
        new("KVM_CREATE_VM", KvmIoctl.CreateVm, "/dev/kvm", AbiStruct.Define("(none: the argument is the VM type)", 0, "", []) , KvmH),
        new("KVM_CREATE_DEVICE", KvmIoctl.CreateDevice, "kvm-vm fd", KvmCreateDevice.Layout, KvmH),
        new("KVM_SET_DEVICE_ATTR", KvmIoctl.SetDeviceAttr, "kvm-vfio device fd", KvmDeviceAttr.Layout, KvmH),
    ];

    /// <summary>Every struct of every profile, once each.</summary>
    public static IEnumerable<AbiStruct> AllStructs =>
        Ioctls(TsmAbiProfile.OpArch).Concat(Ioctls(TsmAbiProfile.Scope)).Select(i => i.Struct)
            .Where(s => s.Size > 0).DistinctBy(s => (s.Name, s.Size));
}
