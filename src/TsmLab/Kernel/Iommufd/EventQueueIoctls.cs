using System.Buffers.Binary;
using TsmLab.Abi;

namespace TsmLab.Kernel.Iommufd;

/// <summary>
/// IOMMU_FAULT_QUEUE_ALLOC and IOMMU_VEVENTQ_ALLOC (eventq.c), and IOMMU_HW_QUEUE_ALLOC (viommu.c):
/// the queue objects of a context. Each queue with an fd takes the next id, then its
/// <see cref="EventQueueFile"/> is installed O_CLOEXEC. The kernel writes the answer before it
/// installs the fd; the model installs first to learn the number, so an unwritable answer (EFAULT)
/// leaves the fd open holding the queue (TsmLab definition, as for the mock's access fd).
/// </summary>
internal static class EventQueueIoctls
{
    /// <summary>IOMMU_FAULT_QUEUE_ALLOC (<c>iommufd_fault_alloc</c>): flags ≠ 0 EOPNOTSUPP; else a fault queue and its fd (no free fd: EMFILE).</summary>
    public static int FaultQueueAlloc(ref IommufdUcmd u)
    {
        if (BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuFaultAlloc.Flags..]) != 0) return Errno.EOPNOTSUPP.Neg();
        if (Faults.FaultPlan.Fail(Faults.FaultPoint.Allocation, "fault queue")) return Errno.ENOMEM.Neg();
        var fault = new FaultQueue();
        u.Context.Add(fault);
        int fd = Install(ref u, fault, "anon_inode:[iommufd-pgfault]");
        if (fd < 0) return fd;
        BinaryPrimitives.WriteUInt32LittleEndian(u.Cmd[IommuFaultAlloc.OutFaultId..], fault.Id);
        BinaryPrimitives.WriteUInt32LittleEndian(u.Cmd[IommuFaultAlloc.OutFaultFd..], (uint)fd);
        return u.Respond(IommuFaultAlloc.SizeOf);
    }

    /// <summary>
    /// IOMMU_VEVENTQ_ALLOC (<c>iommufd_veventq_alloc</c>): flags, <c>__reserved</c> or type DEFAULT
    /// EOPNOTSUPP; veventq_depth 0 EINVAL; viommu_id not a vIOMMU ENOENT; a queue of that type on the
    /// vIOMMU already EEXIST; else a vEVENTQ holding the vIOMMU (EBUSY) and its fd. The type is not
    /// checked against the vIOMMU (any non-zero type is accepted, as Linux does).
    /// </summary>
    public static int VeventqAlloc(ref IommufdUcmd u)
    {
        uint type = BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuVeventqAlloc.Type..]);
        if (BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuVeventqAlloc.Flags..]) != 0
            || BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuVeventqAlloc.Reserved..]) != 0
            || type == IommuVeventqAlloc.TypeDefault) return Errno.EOPNOTSUPP.Neg();
        uint depth = BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuVeventqAlloc.VeventqDepth..]);
        if (depth == 0) return Errno.EINVAL.Neg();
        var viommu = u.Context.Get<Viommu>(BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuVeventqAlloc.ViommuId..]));
        if (viommu is null) return Errno.ENOENT.Neg();
        if (Faults.FaultPlan.Fail(Faults.FaultPoint.Allocation, "vEVENTQ")) return Errno.ENOMEM.Neg();
        Veventq q;
        lock (u.Context.Gate)
        {
            if (viommu.Veventqs.ContainsKey(type)) return Errno.EEXIST.Neg();
            q = new Veventq(viommu, type, depth);
            viommu.Users++;
            viommu.Veventqs.Add(type, q);
            u.Context.Add(q);
        }
        int fd = Install(ref u, q, "anon_inode:[iommufd-viommu-event]");
        if (fd < 0) return fd;
        BinaryPrimitives.WriteUInt32LittleEndian(u.Cmd[IommuVeventqAlloc.OutVeventqId..], q.Id);
        BinaryPrimitives.WriteUInt32LittleEndian(u.Cmd[IommuVeventqAlloc.OutVeventqFd..], (uint)fd);
        return u.Respond(IommuVeventqAlloc.SizeOf);
    }

    /// <summary>
    /// IOMMU_HW_QUEUE_ALLOC (<c>iommufd_hw_queue_alloc_ioctl</c>): flags ≠ 0 or type DEFAULT
    /// EOPNOTSUPP; length 0 EINVAL; nesting_parent_iova + length − 1 wrapping EOVERFLOW; viommu_id
    /// not a vIOMMU ENOENT; a vIOMMU without HW queues (every one but the mock vIOMMU) or a type it
    /// does not know EOPNOTSUPP; then <see cref="HwQueue.Create"/>.
    /// </summary>
    public static int HwQueueAlloc(ref IommufdUcmd u)
    {
        uint type = BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuHwQueueAlloc.Type..]);
        if (BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuHwQueueAlloc.Flags..]) != 0 || type == IommuHwQueueAlloc.TypeDefault) return Errno.EOPNOTSUPP.Neg();
        ulong length = BinaryPrimitives.ReadUInt64LittleEndian(u.Cmd[IommuHwQueueAlloc.Length..]);
        ulong iova = BinaryPrimitives.ReadUInt64LittleEndian(u.Cmd[IommuHwQueueAlloc.NestingParentIova..]);
        if (length == 0) return Errno.EINVAL.Neg();
        if (iova > ulong.MaxValue - (length - 1)) return Errno.EOVERFLOW.Neg();
        var viommu = u.Context.Get<Viommu>(BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuHwQueueAlloc.ViommuId..]));
        if (viommu is null) return Errno.ENOENT.Neg();
        if (viommu.ViommuType != IommuTestCmd.ViommuTypeSelftest || type != IommuTestCmd.HwQueueTypeSelftest) return Errno.EOPNOTSUPP.Neg();
        int rc = HwQueue.Create(u.Context, viommu, BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuHwQueueAlloc.Index..]), iova, length, out var queue);
        if (rc < 0) return rc;
        BinaryPrimitives.WriteUInt32LittleEndian(u.Cmd[IommuHwQueueAlloc.OutHwQueueId..], queue!.Id);
        return u.Respond(IommuHwQueueAlloc.SizeOf);
    }

    /// <summary><c>iommufd_eventq_init</c> + fd_install: the file holds a user of the queue and the iommufd; no free fd aborts the queue.</summary>
    private static int Install(ref IommufdUcmd u, EventQueue queue, string name)
    {
        lock (u.Context.Gate) queue.Users++;
        var file = new EventQueueFile(queue, u.Context, name);
        int fd = u.Caller.InstallFd(file);
        if (fd < 0)
        {
            file.Put(); // drops the file's user
            u.Context.Abort(queue);
        }
        return fd;
    }
}
