using TsmLab.Abi;

namespace TsmLab.Kernel.Iommufd;

/// <summary>
/// What a driver gives an access (<c>struct iommufd_access_ops</c>): whether it pins pages and
/// its unmap callback, which must drop every pin it holds in the range before returning.
/// </summary>
internal interface IAccessOps
{
    bool NeedsPinPages { get; }
    void Unmap(ulong iova, ulong length);

    /// <summary>
    /// An internal access (<c>iommufd_access_create_internal</c>, a HW queue's): no unmap callback;
    /// its pins lock the areas they meet (<see cref="IoptArea.Locks"/>), so an unmap over them is EBUSY.
    /// </summary>
    bool Internal => false;
}

/// <summary>
/// An in-kernel driver's access to an IOAS without DMA (<c>struct iommufd_access</c>,
/// drivers/iommu/iommufd/device.c [LI10]): an object in the context's table with no uAPI of its
/// own (IOMMUFD_OBJ_ACCESS; the driver holds a second user, so IOMMU_DESTROY of its id is EBUSY),
/// attached to one IOAS (which it keeps busy), through which the driver pins pages or reads and
/// writes memory by IOVA. Made by the mock driver's CREATE_ACCESS and, internal, by a HW queue (<see cref="HwQueue"/>).
/// <para>Thread safety: <see cref="ioasLock"/> (<c>ioas_lock</c>) guards the attached IOAS; it is
/// released around the driver's unmap callback, as in Linux. Lock order: the driver's own lock,
/// then this, then the io_pagetable's.</para>
/// </summary>
internal sealed class IommufdAccess : IommufdObject, IIoasAccess
{
    private readonly Lock ioasLock = new();
    private Ioas? ioas;
    private Ioas? ioasUnpin;

    private IommufdAccess(IommufdContext context, IAccessOps ops)
    {
        Context = context;
        Ops = ops;
        Users = 2; // the table's and the calling driver's until Destroy
    }

    public override IommufdObjectType Type => IommufdObjectType.Access;
    public IommufdContext Context { get; }
    public IAccessOps Ops { get; }

    /// <summary>PAGE_SIZE for a pinning driver, else 1; it joins the IOAS's alignment while attached.</summary>
    public ulong IovaAlignment => Ops.NeedsPinPages ? (ulong)AddressSpace.PageSize : 1;

    /// <summary>The IOAS attached now, or null.</summary>
    public Ioas? Ioas
    {
        get { lock (ioasLock) return ioas; }
    }

    /// <summary><c>iommufd_access_create</c>: a new access in the context's table (it takes the next id).</summary>
    public static IommufdAccess Create(IommufdContext context, IAccessOps ops)
    {
        var access = new IommufdAccess(context, ops);
        context.Add(access);
        return access;
    }

    /// <summary><c>iommufd_access_destroy</c>: out of the table, detached (the driver's unmap callback runs over everything first).</summary>
    public void Destroy() => Context.Abort(this);

    /// <summary>Called by the context when the object is destroyed (<c>iommufd_access_destroy_object</c>).</summary>
    internal void DetachForDestroy()
    {
        lock (ioasLock)
            if (ioas is not null) ChangeIoasLocked(null);
    }

    /// <summary><c>iommufd_access_attach</c>: EINVAL when attached already; else as <see cref="ChangeIoasId"/>.</summary>
    public int Attach(uint ioasId)
    {
        lock (ioasLock)
        {
            if (ioas is not null) return Errno.EINVAL.Neg();
            return ChangeIoasId(ioasId);
        }
    }

    /// <summary><c>iommufd_access_replace</c>: ENOENT when not attached; else as <see cref="ChangeIoasId"/>.</summary>
    public int Replace(uint ioasId)
    {
        lock (ioasLock)
        {
            if (ioas is null) return Errno.ENOENT.Neg();
            return ChangeIoasId(ioasId);
        }
    }

    /// <summary>ENOENT for an id that is not an IOAS; then <see cref="ChangeIoasLocked"/>. Caller holds the lock.</summary>
    private int ChangeIoasId(uint id)
    {
        var target = Context.Get<Ioas>(id);
        if (target is null) return Errno.ENOENT.Neg();
        return ChangeIoasLocked(target);
    }

    /// <summary>
    /// <c>iommufd_access_change_ioas</c>: EBUSY while a detach is under way; the same IOAS is a
    /// no-op; the new IOAS takes the access (EADDRINUSE from its alignment) and a user; the old
    /// one sees the driver's unmap callback over everything, loses the access and a user.
    /// Caller holds the lock (released around the callback).
    /// </summary>
    private int ChangeIoasLocked(Ioas? next)
    {
        var cur = ioas;
        if (!ReferenceEquals(cur, ioasUnpin)) return Errno.EBUSY.Neg();
        if (ReferenceEquals(cur, next)) return 0;
        ioas = null; // blocks new pins; unpins still use ioasUnpin
        if (next is not null)
        {
            int rc = next.Iopt.AddAccess(this);
            if (rc < 0)
            {
                ioas = cur;
                return rc;
            }
            lock (Context.Gate) next.Users++;
        }
        if (cur is not null)
        {
            ioasLock.Exit();
            try { Ops.Unmap(0, ulong.MaxValue); }
            finally { ioasLock.Enter(); }
            cur.Iopt.RemoveAccess(this);
            lock (Context.Gate) cur.Users--;
        }
        ioas = next;
        ioasUnpin = next;
        return 0;
    }

    /// <summary>
    /// <c>iommufd_access_pin_pages</c>: length 0 EINVAL, iova + length - 1 wrapping EOVERFLOW, no
    /// IOAS attached ENOENT, then <see cref="IoPagetable.PinForAccess"/>. The pins go to
    /// <paramref name="pins"/> for <see cref="UnpinPages"/>.
    /// </summary>
    public int PinPages(ulong iova, ulong length, bool write, List<AccessPin> pins)
    {
        if (length == 0) return Errno.EINVAL.Neg();
        if (iova > ulong.MaxValue - (length - 1)) return Errno.EOVERFLOW.Neg();
        lock (ioasLock)
        {
            if (ioas is null) return Errno.ENOENT.Neg();
            return Ops.Internal ? ioas.Iopt.PinInternal(iova, iova + (length - 1), pins) : ioas.Iopt.PinForAccess(iova, iova + (length - 1), write, pins);
        }
    }

    /// <summary><c>iommufd_access_unpin_pages</c>: drops the pins (on the IOAS they were taken from).</summary>
    public void UnpinPages(List<AccessPin> pins)
    {
        lock (ioasLock)
        {
            if (ioasUnpin is null) return;
            if (Ops.Internal) ioasUnpin.Iopt.UnpinInternal(pins);
            else ioasUnpin.Iopt.UnpinForAccess(pins);
        }
    }

    /// <summary><c>iommufd_access_rw</c>: length 0 EINVAL, wrapping EOVERFLOW, no IOAS ENOENT, then <see cref="IoPagetable.AccessRw"/>.</summary>
    public int Rw(ulong iova, Span<byte> data, bool write)
    {
        if (data.Length == 0) return Errno.EINVAL.Neg();
        if (iova > ulong.MaxValue - (ulong)(data.Length - 1)) return Errno.EOVERFLOW.Neg();
        lock (ioasLock)
        {
            if (ioas is null) return Errno.ENOENT.Neg();
            return ioas.Iopt.AccessRw(iova, data, write);
        }
    }

    /// <summary><c>iommufd_access_notify_unmap</c>'s call of the driver (skipped once the access is being destroyed).</summary>
    void IIoasAccess.NotifyUnmap(ulong iova, ulong length)
    {
        if (Users == 0) return;
        Ops.Unmap(iova, length);
    }
}
