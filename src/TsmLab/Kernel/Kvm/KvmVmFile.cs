using TsmLab.Abi;
using System.Buffers.Binary;

namespace TsmLab.Kernel.Kvm;

/// <summary>
/// A VM fd (<c>kvm_vm_ioctl</c>): KVM_CREATE_DEVICE for KVM_DEV_TYPE_VFIO. The struct is read
/// whole (EFAULT), an unknown type is ENODEV, KVM_CREATE_DEVICE_TEST answers 0 without creating,
/// a second VFIO device is EBUSY (kvm_vfio_create), and the new fd is written to the struct's
/// <c>fd</c> field; the ioctl itself returns 0, as Linux does.
/// </summary>
internal sealed class KvmVmFile(KvmVm vm) : KernelFile
{
    public KvmVm Vm => vm;

    public override string Name => "anon_inode:kvm-vm";

    public override long Ioctl(Process caller, uint cmd, ulong arg)
    {
        if (cmd != KvmIoctl.CreateDevice) return Errno.ENOTTY.Neg();
        Span<byte> cd = stackalloc byte[(int)KvmCreateDevice.SizeOf];
        if (caller.UserMemory.CopyFromUser(cd, arg) < 0) return Errno.EFAULT.Neg();
        if (BinaryPrimitives.ReadUInt32LittleEndian(cd[KvmCreateDevice.Type..]) != KvmCreateDevice.TypeVfio) return Errno.ENODEV.Neg();
        if ((BinaryPrimitives.ReadUInt32LittleEndian(cd[KvmCreateDevice.Flags..]) & KvmCreateDevice.FlagTest) != 0) return 0;
        KvmVfioDeviceFile dev;
        lock (vm.Lock)
        {
            if (vm.VfioDevice is not null) return Errno.EBUSY.Neg();
            dev = new KvmVfioDeviceFile(vm);
        }
        int fd = caller.InstallFd(dev);
        if (fd < 0)
        {
            dev.Put();
            return fd;
        }
        BinaryPrimitives.WriteUInt32LittleEndian(cd[KvmCreateDevice.Fd..], (uint)fd);
        if (caller.UserMemory.CopyToUser(arg, cd) < 0)
        {
            // kvm_ioctl_create_device: the fd is already installed; Linux leaves it to the caller too.
            return Errno.EFAULT.Neg();
        }
        return 0;
    }

    protected override void Release() => vm.Put();
}
