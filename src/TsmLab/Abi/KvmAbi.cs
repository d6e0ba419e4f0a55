namespace TsmLab.Abi;

// include/uapi/linux/kvm.h, arch/x86/include/uapi/asm/kvm.h (torvalds/linux); the realm VM type
// from the Arm CCA host series (KVM_VM_TYPE_ARM_REALM, bit 8).

/// <summary>KVM ioctl numbers (KVMIO = 0xAE).</summary>
public static class KvmIoctl
{
    public const uint Type = 0xAE;
    /// <summary><c>KVM_GET_API_VERSION</c> = _IO(KVMIO, 0x00).</summary>
    public const uint GetApiVersion = 0xAE00;
    /// <summary><c>KVM_CREATE_VM</c> = _IO(KVMIO, 0x01); the argument is the VM type.</summary>
    public const uint CreateVm = 0xAE01;
    /// <summary><c>KVM_CREATE_DEVICE</c> = _IOWR(KVMIO, 0xe0, struct kvm_create_device).</summary>
    public static readonly uint CreateDevice = IoctlEncoding.Iowr(Type, 0xE0, KvmCreateDevice.SizeOf);
    /// <summary><c>KVM_SET_DEVICE_ATTR</c> = _IOW(KVMIO, 0xe1, struct kvm_device_attr).</summary>
    public static readonly uint SetDeviceAttr = IoctlEncoding.Iow(Type, 0xE1, KvmDeviceAttr.SizeOf);

    /// <summary><c>KVM_API_VERSION</c>.</summary>
    public const int ApiVersion = 12;
}

/// <summary>VM types accepted by KVM_CREATE_VM.</summary>
public static class KvmVmType
{
    /// <summary><c>KVM_X86_DEFAULT_VM</c>.</summary>
    public const ulong X86Default = 0;
    /// <summary><c>KVM_X86_SNP_VM</c>: an SEV-SNP guest.</summary>
    public const ulong X86SnpVm = 4;
    /// <summary><c>KVM_X86_TDX_VM</c>: a TDX guest.</summary>
    public const ulong X86TdxVm = 5;
    /// <summary><c>KVM_VM_TYPE_ARM_REALM</c>: an Arm CCA realm; bits 0-7 keep the IPA size.</summary>
    public const ulong ArmRealm = 0x100;
    /// <summary><c>KVM_VM_TYPE_ARM_IPA_SIZE_MASK</c>.</summary>
    public const ulong ArmIpaSizeMask = 0xFF;
}

/// <summary><c>struct kvm_create_device</c>.</summary>
public static class KvmCreateDevice
{
    public const int Type = 0, Fd = 4, Flags = 8;
    public const uint SizeOf = 12;
    /// <summary><c>KVM_DEV_TYPE_VFIO</c>.</summary>
    public const uint TypeVfio = 4;
    /// <summary><c>KVM_CREATE_DEVICE_TEST</c>.</summary>
    public const uint FlagTest = 1;
    public static readonly AbiStruct Layout = AbiStruct.Define("kvm_create_device", (int)SizeOf, "flags",
        new("type", Type, 4), new("fd", Fd, 4), new("flags", Flags, 4));
}

/// <summary><c>struct kvm_device_attr</c> and the VFIO device's groups (virt/kvm/vfio.c).</summary>
public static class KvmDeviceAttr
{
    public const int Flags = 0, Group = 4, Attr = 8, Addr = 16;
    public const uint SizeOf = 24;
    /// <summary><c>KVM_DEV_VFIO_FILE</c> (alias of KVM_DEV_VFIO_GROUP).</summary>
    public const uint GroupVfioFile = 1;
    /// <summary><c>KVM_DEV_VFIO_FILE_ADD</c>: addr points to an s32 fd.</summary>
    public const ulong VfioFileAdd = 1;
    /// <summary><c>KVM_DEV_VFIO_FILE_DEL</c>.</summary>
    public const ulong VfioFileDel = 2;
    public static readonly AbiStruct Layout = AbiStruct.Define("kvm_device_attr", (int)SizeOf, "addr",
        new("flags", Flags, 4), new("group", Group, 4), new("attr", Attr, 8), new("addr", Addr, 8));
}
