using TsmLab.Abi;
using TsmLab.Kernel.Vfio;
using System.Buffers.Binary;

namespace TsmLab.Kernel.Kvm;

/// <summary>
/// The KVM VFIO pseudo device (virt/kvm/vfio.c): KVM_SET_DEVICE_ATTR with group
/// KVM_DEV_VFIO_FILE adds or deletes a VFIO file, which tells that file its KVM. Errors as
/// upstream: struct fault EFAULT; unknown group or attribute ENXIO; fd fault EFAULT; bad fd
/// EBADF; not a VFIO file EINVAL; added twice EEXIST; deleting one not added ENOENT.
/// Closing the device fd releases the files it holds (kvm_vfio_release).
/// </summary>
internal sealed class KvmVfioDeviceFile : KernelFile
{
    private readonly KvmVm vm;
    private readonly List<VfioDeviceFile> files = new();
    /// <summary><c>kv->lock</c>: guards the file list.</summary>
    private readonly Lock filesLock = new();

    public KvmVfioDeviceFile(KvmVm vm)
    {
        this.vm = vm;
        vm.Get();
        vm.VfioDevice = this;
    }

    public override string Name => "anon_inode:kvm-vfio";

    public IReadOnlyList<VfioDeviceFile> Files
    {
        get { lock (filesLock) return files.ToArray(); }
    }

    public override long Ioctl(Process caller, uint cmd, ulong arg)
    {
        if (cmd != KvmIoctl.SetDeviceAttr) return Errno.ENOTTY.Neg();
        Span<byte> attr = stackalloc byte[(int)KvmDeviceAttr.SizeOf];
        if (caller.UserMemory.CopyFromUser(attr, arg) < 0) return Errno.EFAULT.Neg();
        if (BinaryPrimitives.ReadUInt32LittleEndian(attr[KvmDeviceAttr.Group..]) != KvmDeviceAttr.GroupVfioFile) return Errno.ENXIO.Neg();
        ulong which = BinaryPrimitives.ReadUInt64LittleEndian(attr[KvmDeviceAttr.Attr..]);
        if (which != KvmDeviceAttr.VfioFileAdd && which != KvmDeviceAttr.VfioFileDel) return Errno.ENXIO.Neg();
        if (caller.UserMemory.GetUser32(BinaryPrimitives.ReadUInt64LittleEndian(attr[KvmDeviceAttr.Addr..]), out uint fdBits) < 0) return Errno.EFAULT.Neg();
        var file = caller.Fget((int)fdBits);
        if (file is null) return Errno.EBADF.Neg();
        try
        {
            if (file is not VfioDeviceFile vfio) return which == KvmDeviceAttr.VfioFileAdd ? Errno.EINVAL.Neg() : Errno.ENOENT.Neg();
            return which == KvmDeviceAttr.VfioFileAdd ? Add(vfio) : Del(vfio);
        }
        finally { file.Put(); }
    }

    private int Add(VfioDeviceFile vfio)
    {
        lock (filesLock)
        {
            if (files.Contains(vfio)) return Errno.EEXIST.Neg();
            vfio.Get();
            files.Add(vfio);
            vfio.SetKvm(vm);
            return 0;
        }
    }

    private int Del(VfioDeviceFile vfio)
    {
        lock (filesLock)
        {
            if (!files.Remove(vfio)) return Errno.ENOENT.Neg();
            vfio.SetKvm(null);
        }
        vfio.Put();
        return 0;
    }

    protected override void Release()
    {
        VfioDeviceFile[] held;
        lock (filesLock)
        {
            held = [.. files];
            files.Clear();
            foreach (var f in held) f.SetKvm(null);
        }
        foreach (var f in held) f.Put();
        lock (vm.Lock) vm.VfioDevice = null;
        vm.Put();
    }
}
