namespace TsmLab.Abi;

// include/uapi/linux/vfio.h (torvalds/linux): VFIO_TYPE ';', VFIO_BASE 100; the cdev ioctls of
// drivers/vfio/device_cdev.c.

/// <summary>VFIO device-cdev ioctl numbers.</summary>
public static class VfioIoctl
{
    /// <summary><c>VFIO_DEVICE_BIND_IOMMUFD</c> = _IO(VFIO_TYPE, VFIO_BASE + 18).</summary>
    public const uint DeviceBindIommufd = 0x3B76;
    /// <summary><c>VFIO_DEVICE_ATTACH_IOMMUFD_PT</c> = _IO(VFIO_TYPE, VFIO_BASE + 19).</summary>
    public const uint DeviceAttachIommufdPt = 0x3B77;
}

/// <summary>
/// <c>struct vfio_device_bind_iommufd</c>, the 16-byte form (the 6.17 token_uuid_ptr extension
/// with VFIO_DEVICE_BIND_FLAG_TOKEN is not modelled: any flag is EINVAL).
/// </summary>
public static class VfioDeviceBindIommufd
{
    public const int Argsz = 0, Flags = 4, Iommufd = 8, OutDevid = 12, SizeOf = 16;
    public static readonly AbiStruct Layout = AbiStruct.Define("vfio_device_bind_iommufd", SizeOf, "out_devid",
        new("argsz", Argsz, 4), new("flags", Flags, 4), new("iommufd", Iommufd, 4), new("out_devid", OutDevid, 4));
}

/// <summary><c>struct vfio_device_attach_iommufd_pt</c> without the PASID extension.</summary>
public static class VfioDeviceAttachIommufdPt
{
    public const int Argsz = 0, Flags = 4, PtId = 8, SizeOf = 12;
    public static readonly AbiStruct Layout = AbiStruct.Define("vfio_device_attach_iommufd_pt", SizeOf, "pt_id",
        new("argsz", Argsz, 4), new("flags", Flags, 4), new("pt_id", PtId, 4));
}
