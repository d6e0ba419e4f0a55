using TsmLab.Abi;

namespace TsmLab.Kernel.Kvm;

/// <summary>
/// A KVM virtual machine (<c>struct kvm</c>): its type and the confidential-VM architecture
/// that follows from it, reference counted like <c>kvm_get_kvm</c>/<c>kvm_put_kvm</c> (the VM
/// fd, each KVM device fd, each open VFIO device that captured it, each vIOMMU that pinned it).
/// </summary>
public sealed class KvmVm
{
    private int users = 1;

    internal KvmVm(int id, ulong type, TvmArch arch)
    {
        Id = id;
        Type = type;
        Arch = arch;
    }

    /// <summary>A host-unique number, for traces ("kvm-N").</summary>
    public int Id { get; }
    /// <summary>The KVM_CREATE_VM type argument.</summary>
    public ulong Type { get; }
    /// <summary>The confidential-VM architecture (None for a normal VM).</summary>
    public TvmArch Arch { get; }
    public bool Destroyed { get => Volatile.Read(ref destroyed); private set => Volatile.Write(ref destroyed, value); }
    private bool destroyed;
    /// <summary><c>kvm->lock</c>: guards the VM's devices (the one KVM VFIO device).</summary>
    internal Lock Lock { get; } = new();
    /// <summary>The VM's single KVM VFIO device, if created.</summary>
    internal KvmVfioDeviceFile? VfioDevice { get; set; }

    /// <summary>The references held (for leak checks).</summary>
    public int Users => Volatile.Read(ref users);

    internal void Get() => Interlocked.Increment(ref users);

    internal void Put()
    {
        if (Interlocked.Decrement(ref users) == 0) Destroyed = true;
    }

    public override string ToString() => $"kvm-{Id}";
}
