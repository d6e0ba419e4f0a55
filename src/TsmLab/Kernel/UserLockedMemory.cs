using TsmLab.Abi;

namespace TsmLab.Kernel;

/// <summary>
/// The locked-memory count of the user the model's processes run as (<c>user_struct.locked_vm</c>),
/// which iommufd charges by default (IOMMU_OPTION_RLIMIT_MODE 0, the accounting io_uring uses):
/// every process of the same user shares it, each checked against its own RLIMIT_MEMLOCK. One
/// per <see cref="HostKernel"/> (the model has one user). Lock-free: a compare-exchange loop
/// checks and adds in one step, as <c>incr_user_locked_vm</c> does [LI5].
/// </summary>
public sealed class UserLockedMemory
{
    private long lockedVm;

    /// <summary>Pages charged now.</summary>
    public long LockedPages => Interlocked.Read(ref lockedVm);

    /// <summary>Charges <paramref name="pages"/> unless the total would pass <paramref name="limitPages"/>: 0 or -ENOMEM.</summary>
    internal static int TryCharge(ref long counter, long pages, ulong limitPages)
    {
        long cur = Interlocked.Read(ref counter);
        while (true)
        {
            long next = cur + pages;
            if ((ulong)next > limitPages) return Errno.ENOMEM.Neg();
            long seen = Interlocked.CompareExchange(ref counter, next, cur);
            if (seen == cur) return 0;
            cur = seen;
        }
    }

    internal ref long Counter => ref lockedVm;
}
