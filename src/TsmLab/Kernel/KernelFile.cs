using TsmLab.Abi;

namespace TsmLab.Kernel;

/// <summary>
/// An open file (<c>struct file</c>): reference counted like fget/fput. The fd table holds one
/// reference per descriptor; other kernel objects that pin a file (VFIO's iommufd binding, the
/// KVM VFIO device's file list) hold their own. <see cref="Release"/> runs when the last goes.
/// The count is atomic (<c>f_count</c>): any thread may get or put, and exactly one runs the release.
/// </summary>
public abstract class KernelFile
{
    private int references = 1;

    /// <summary>The path it was opened as, or an anon-inode name such as "anon_inode:kvm-vm".</summary>
    public abstract string Name { get; }

    /// <summary>True once <see cref="Release"/> has run.</summary>
    public bool Released => Volatile.Read(ref released);

    private bool released;

    /// <summary>The references held (for leak checks).</summary>
    public int References => Volatile.Read(ref references);

    /// <summary>get_file.</summary>
    public void Get()
    {
        if (Interlocked.Increment(ref references) <= 1)
            throw new InvalidOperationException($"get_file on released file {Name}");
    }

    /// <summary>
    /// fget's half: a reference unless the file is already on its way out (the count reached 0),
    /// as <c>get_file_rcu</c> / <c>atomic_long_inc_not_zero</c>.
    /// </summary>
    public bool TryGet()
    {
        int n = Volatile.Read(ref references);
        while (n > 0)
        {
            int seen = Interlocked.CompareExchange(ref references, n + 1, n);
            if (seen == n) return true;
            n = seen;
        }
        return false;
    }

    /// <summary>fput: the last reference releases the file.</summary>
    public void Put()
    {
        int n = Interlocked.Decrement(ref references);
        if (n < 0) throw new InvalidOperationException($"fput below zero on {Name}");
        if (n == 0)
        {
            Volatile.Write(ref released, true);
            Release();
        }
    }

    /// <summary>unlocked_ioctl. The default answers ENOTTY, as a file without the ioctl does.</summary>
    public virtual long Ioctl(Process caller, uint cmd, ulong arg) => Errno.ENOTTY.Neg();

    /// <summary>file_operations.release.</summary>
    protected virtual void Release() { }
}
