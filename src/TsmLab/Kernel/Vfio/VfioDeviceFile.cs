using TsmLab.Abi;
using TsmLab.Kernel.Iommufd;
using TsmLab.Kernel.Kvm;
using System.Buffers.Binary;

namespace TsmLab.Kernel.Vfio;

/// <summary>
/// An open VFIO device cdev (drivers/vfio/device_cdev.c, vfio_main.c). Before
/// VFIO_DEVICE_BIND_IOMMUFD every other ioctl is EINVAL. Bind: the first 16 bytes are read
/// (EFAULT); argsz below 16 or any flag EINVAL; bound already (this file or another) EINVAL;
/// the iommufd fd closed EBADF, not an iommufd EBADFD; the KVM the file was told about is
/// captured with a reference; out_devid copied back (EFAULT undoes the bind). Attach: argsz
/// below 12 or any flag EINVAL; pt_id resolved by iommufd (ENOENT, EINVAL); the resulting
/// HWPT id copied back to pt_id (EFAULT undoes the attach). Other ioctls on a bound file: ENOTTY.
/// </summary>
public sealed class VfioDeviceFile : KernelFile
{
    internal VfioDeviceFile(VfioDevice device) => Device = device;

    public VfioDevice Device { get; }
    public override string Name => Device.Path;

    /// <summary>The KVM set by KVM_DEV_VFIO_FILE_ADD (no reference, as vfio_file_set_kvm).</summary>
    public KvmVm? Kvm { get => Volatile.Read(ref kvm); private set => Volatile.Write(ref kvm, value); }
    private KvmVm? kvm;

    /// <summary>The iommufd device object while bound.</summary>
    public IommufdDevice? Binding { get; private set; }

    internal void SetKvm(KvmVm? vm) => Kvm = vm;

    /// <summary>Bind and attach run under the device's lock (dev_set->lock), with iommufd look-ups held short-term.</summary>
    public override long Ioctl(Process caller, uint cmd, ulong arg)
    {
        lock (Device.DevLock)
        {
            int mark = IommufdContext.BeginCall();
            try
            {
                if (cmd == VfioIoctl.DeviceBindIommufd) return Bind(caller, arg);
                if (Binding is null) return Errno.EINVAL.Neg();
                return cmd == VfioIoctl.DeviceAttachIommufdPt ? Attach(caller, arg) : Errno.ENOTTY.Neg();
            }
            finally { IommufdContext.EndCall(mark); }
        }
    }

    private int Bind(Process caller, ulong arg)
    {
        Span<byte> b = stackalloc byte[VfioDeviceBindIommufd.SizeOf];
        if (caller.UserMemory.CopyFromUser(b, arg) < 0) return Errno.EFAULT.Neg();
        if (BinaryPrimitives.ReadUInt32LittleEndian(b[VfioDeviceBindIommufd.Argsz..]) < VfioDeviceBindIommufd.SizeOf || BinaryPrimitives.ReadUInt32LittleEndian(b[VfioDeviceBindIommufd.Flags..]) != 0)
            return Errno.EINVAL.Neg();
        if (Binding is not null || Device.OpenCount != 0) return Errno.EINVAL.Neg();
        var file = caller.Fget(BinaryPrimitives.ReadInt32LittleEndian(b[VfioDeviceBindIommufd.Iommufd..]));
        if (file is null) return Errno.EBADF.Neg();
        if (file is not IommufdContext ictx)
        {
            file.Put();
            return Errno.EBADFD.Neg();
        }
        // The fget reference becomes the binding's context reference (iommufd_ctx_from_fd).
        var idev = ictx.BindDevice(this, Kvm);
        Device.OpenCount++;
        Binding = idev;
        Span<byte> devid = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(devid, idev.Id);
        if (caller.UserMemory.CopyToUser(arg + VfioDeviceBindIommufd.OutDevid, devid) < 0)
        {
            Unbind();
            return Errno.EFAULT.Neg();
        }
        return 0;
    }

    private int Attach(Process caller, ulong arg)
    {
        Span<byte> a = stackalloc byte[VfioDeviceAttachIommufdPt.SizeOf];
        if (caller.UserMemory.CopyFromUser(a, arg) < 0) return Errno.EFAULT.Neg();
        if (BinaryPrimitives.ReadUInt32LittleEndian(a[VfioDeviceAttachIommufdPt.Argsz..]) < VfioDeviceAttachIommufdPt.SizeOf || BinaryPrimitives.ReadUInt32LittleEndian(a[VfioDeviceAttachIommufdPt.Flags..]) != 0)
            return Errno.EINVAL.Neg();
        var idev = Binding!;
        int rc = idev.Context.Attach(idev, BinaryPrimitives.ReadUInt32LittleEndian(a[VfioDeviceAttachIommufdPt.PtId..]), out uint hwptId, out bool changed);
        if (rc < 0) return rc;
        Span<byte> pt = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(pt, hwptId);
        if (caller.UserMemory.CopyToUser(arg + VfioDeviceAttachIommufdPt.PtId, pt) < 0)
        {
            if (changed) idev.Context.Detach(idev);
            return Errno.EFAULT.Neg();
        }
        return 0;
    }

    /// <summary>
    /// Closing the bound device (vfio_df_close): iommufd unbinds it (destroying its vDevice, which
    /// unbinds the TDI), then vfio-pci disables the device and resets it (vfio_pci_core_disable's
    /// pci_try_reset_function), so whatever the TSM could not stop is reset on the device.
    /// </summary>
    private void Unbind()
    {
        var idev = Binding!;
        Binding = null;
        Device.OpenCount--;
        idev.Context.UnbindDevice(idev);
        Device.Function.Reset();
    }

    protected override void Release()
    {
        lock (Device.DevLock)
            if (Binding is not null) Unbind();
    }
}
