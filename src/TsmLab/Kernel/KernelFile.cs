using TsmLab.Abi;

namespace TsmLab.Kernel;

/// <summary>
/// An open file (<c>struct file</c>): reference counted like fget/fput. The fd table holds one
/// reference per descriptor; other kernel objects that pin a file (VFIO's iommufd binding, the
/// KVM VFIO device's file list) hold their own. <see cref="Release"/> runs when the last goes.
/// </summary>
public abstract class KernelFile
{
    private int references = 1;

    /// <summary>The path it was opened as, or an anon-inode name such as "anon_inode:kvm-vm".</summary>
    public abstract string Name { get; }

    /// <summary>True once <see cref="Release"/> has run.</summary>
    public bool Released { get; private set; }

    /// <summary>get_file.</summary>
    public void Get() => references++;

    /// <summary>fput: the last reference releases the file.</summary>
    public void Put()
    {
        if (--references == 0)
        {
            Released = true;
            Release();
        }
    }

    /// <summary>unlocked_ioctl. The default answers ENOTTY, as a file without the ioctl does.</summary>
    public virtual long Ioctl(Process caller, uint cmd, ulong arg) => Errno.ENOTTY.Neg();

    /// <summary>file_operations.release.</summary>
    protected virtual void Release() { }
}
