using TsmLab.Abi;

namespace TsmLab.Kernel.Iommufd;

/// <summary>
/// A vIOMMU's HW queue in guest memory (<c>struct iommufd_hw_queue</c>, IOMMUFD_OBJ_HW_QUEUE,
/// viommu.c; the mock vIOMMU's <c>mock_hw_queue</c> of selftest.c) made by IOMMU_HW_QUEUE_ALLOC.
/// The queue's pages, found by IOVA in the vIOMMU's nest-parent IOAS, are pinned by an internal
/// access and locked (<see cref="IoptArea.Locks"/>: IOMMU_IOAS_UNMAP over them is EBUSY) until the
/// queue is destroyed. The mock keeps up to <see cref="IommuTestCmd.HwQueueMax"/> queues, each but
/// the first depending on the one before (which is then EBUSY to destroy).
/// </summary>
public sealed class HwQueue : IommufdObject
{
    private readonly List<AccessPin> pins = new();
    private bool registered;

    private HwQueue(Viommu viommu, uint index, ulong baseAddr, ulong length)
    {
        Viommu = viommu;
        Index = index;
        BaseAddr = baseAddr;
        Length = length;
    }

    public override IommufdObjectType Type => IommufdObjectType.HwQueue;
    public Viommu Viommu { get; }
    public uint Index { get; }
    /// <summary><c>nesting_parent_iova</c>.</summary>
    public ulong BaseAddr { get; }
    public ulong Length { get; }
    /// <summary>The queue it depends on (index − 1), which it holds a user of.</summary>
    public HwQueue? Prev { get; private set; }

    /// <summary>
    /// The object takes the next id; then <c>iommufd_hw_queue_alloc_phys</c>: the page-aligned
    /// range around [iova, iova + length) overflowing ERANGE; an internal access (the id after the
    /// queue's, PAGE_SIZE alignment: EADDRINUSE over an unaligned area) attached to the vIOMMU's
    /// IOAS pins it (a hole ENOENT, <see cref="IoPagetable.PinForAccess"/>'s errnos); pages not
    /// physically contiguous EFAULT — the model has no physical addresses and takes a range of more
    /// than one page as not contiguous, as user memory almost never is (TsmLab definition); then
    /// <c>mock_hw_queue_init_phys</c>: index ≥ 2 EINVAL, a queue at that index EEXIST, no queue at
    /// index − 1 EIO. Any failure destroys the object and the access (their ids are free again).
    /// </summary>
    internal static int Create(IommufdContext ctx, Viommu viommu, uint index, ulong iova, ulong length, out HwQueue? queue)
    {
        queue = null;
        if (Faults.FaultPlan.Fail(Faults.FaultPoint.Allocation, "HW queue")) return Errno.ENOMEM.Neg();
        const ulong page = AddressSpace.PageSize;
        var q = new HwQueue(viommu, index, iova, length);
        ctx.Add(q);
        ulong aligned = iova & ~(page - 1), offset = iova - aligned;
        if (offset > ulong.MaxValue - length || offset + length > ulong.MaxValue - (page - 1))
        {
            ctx.Abort(q);
            return Errno.ERANGE.Neg();
        }
        ulong npages = (offset + length + page - 1) / page;
        q.access = IommufdAccess.Create(ctx, InternalAccess.Instance);
        int rc = q.access.Attach(viommu.Hwpt.Ioas.Id);
        if (rc == 0) rc = q.access.PinPages(aligned, npages * page, write: false, q.pins);
        if (rc == 0 && npages > 1) rc = Errno.EFAULT.Neg();
        if (rc == 0)
        {
            lock (ctx.Gate)
            {
                viommu.Users++;
                q.viommuHeld = true;
                if (index >= IommuTestCmd.HwQueueMax) rc = Errno.EINVAL.Neg();
                else if (viommu.HwQueues[index] is not null) rc = Errno.EEXIST.Neg();
                else if (index > 0 && viommu.HwQueues[index - 1] is null) rc = Errno.EIO.Neg();
                else
                {
                    q.Prev = index > 0 ? viommu.HwQueues[index - 1] : null;
                    if (q.Prev is not null) q.Prev.Users++;
                    viommu.HwQueues[index] = q;
                    q.registered = true;
                }
            }
        }
        if (rc < 0)
        {
            ctx.Abort(q);
            return rc;
        }
        queue = q;
        return 0;
    }

    private IommufdAccess? access;
    private bool viommuHeld;

    /// <summary><c>iommufd_hw_queue_destroy</c>: the mock's slot and dependency, the internal access's pins and the access, the vIOMMU's user. Caller holds the context's lock.</summary>
    internal void Destroy()
    {
        if (registered)
        {
            Viommu.HwQueues[Index] = null;
            if (Prev is not null) Prev.Users--;
            registered = false;
        }
        if (access is { } a)
        {
            a.UnpinPages(pins);
            pins.Clear();
            a.Destroy();
            access = null;
        }
        if (viommuHeld) Viommu.Users--;
        viommuHeld = false;
    }

    /// <summary>The ops of a HW queue's internal access: it pins pages and has no unmap callback (its pins lock their areas instead).</summary>
    private sealed class InternalAccess : IAccessOps
    {
        public static readonly InternalAccess Instance = new();
        public bool NeedsPinPages => true;
        public bool Internal => true;
        public void Unmap(ulong iova, ulong length) { }
    }
}
