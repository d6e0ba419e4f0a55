using System.Buffers.Binary;
using TsmLab.Abi;
using TsmLab.Hosts;
using TsmLab.Kernel;
using TsmLab.Kernel.Iommufd;
using static TsmLab.Tests.Kernel.Raw;

namespace TsmLab.Tests.Kernel.Iommufd;

/// <summary>
/// IOMMU_IOAS_CHANGE_PROCESS, IOMMU_FAULT_QUEUE_ALLOC, IOMMU_VEVENTQ_ALLOC, IOMMU_HW_QUEUE_ALLOC,
/// nested HWPTs on a nest parent with their IOTLB invalidation, IOPF and vEVENT triggers, and the
/// PASID ops of IOMMU_TEST_CMD (docs/errno.md).
/// </summary>
public class SelftestQueueTests
{
    private const ulong Mem = 0x2000_0000;
    private const ulong Data = Mem + 0x8000;

    private sealed record Rig(HostKernel Kernel, Process P, int Fd, uint Ioas)
    {
        public IommufdContext Context => Kernel.IommufdContexts.Single();

        public long Test(uint op, uint id, params (int, ulong, int)[] fields) =>
            Ioctl(P, Fd, IommuTestCmd.Number, Struct(IommuTestCmd.SizeOf, [U32(IommuTestCmd.Op, op), U32(IommuTestCmd.Id, id), .. fields]));

        public uint Out(int offset, int size = IommuTestCmd.SizeOf) => BinaryPrimitives.ReadUInt32LittleEndian(Read(P, size).AsSpan(offset));

        public (uint Stdev, uint Hwpt, uint Idev) MockDomain(uint pt, uint flags = 0)
        {
            Assert.Equal(0, Test(IommuTestCmd.OpMockDomainFlags, pt, U32(IommuTestCmd.MockDomainDevFlags, flags)));
            return (Out(IommuTestCmd.MockDomainOutStdevId), Out(IommuTestCmd.MockDomainOutHwptId), Out(IommuTestCmd.MockDomainOutIdevId));
        }

        public long Destroy(uint id) => Ioctl(P, Fd, IommufdIoctl.Destroy, Struct(IommuDestroy.SizeOf, U32(IommuDestroy.Id, id)));

        public long Hwpt(uint idev, uint pt, uint flags, uint dataType = 0, uint dataLen = 0, ulong uptr = Data, uint faultId = 0) =>
            Ioctl(P, Fd, IommufdIoctl.HwptAlloc, Struct(IommuHwptAlloc.SizeOf, U32(IommuHwptAlloc.Flags, flags), U32(IommuHwptAlloc.DevId, idev),
                U32(IommuHwptAlloc.PtId, pt), U32(IommuHwptAlloc.DataType, dataType), U32(IommuHwptAlloc.DataLen, dataLen),
                U64(IommuHwptAlloc.DataUptr, uptr), U32(IommuHwptAlloc.FaultId, faultId)));

        public uint HwptId => Out(IommuHwptAlloc.OutHwptId, IommuHwptAlloc.SizeOf);

        public uint Nested(uint idev, uint pt, uint flags = 0, uint faultId = 0)
        {
            Assert.Equal(0, Hwpt(idev, pt, flags, IommuTestCmd.HwptDataSelftest, 4, Data, faultId));
            return HwptId;
        }

        public (uint Id, int Fd) FaultQueue()
        {
            Assert.Equal(0, Ioctl(P, Fd, IommufdIoctl.FaultQueueAlloc, Struct(IommuFaultAlloc.SizeOf)));
            return (Out(IommuFaultAlloc.OutFaultId, IommuFaultAlloc.SizeOf), (int)Out(IommuFaultAlloc.OutFaultFd, IommuFaultAlloc.SizeOf));
        }

        public EventQueueFile File(int fd) => (EventQueueFile)P.OpenFiles().Single(f => f.Fd == fd).File;

        public long Replace(uint stdev, uint pt) => Test(IommuTestCmd.OpMockDomainReplace, stdev, U32(IommuTestCmd.MockDomainReplacePtId, pt));

        public long Invalidate(uint hwpt, uint type, uint entryLen, uint entryNum, ulong uptr = Data + 0x100) =>
            Ioctl(P, Fd, IommufdIoctl.HwptInvalidate, Struct(IommuHwptInvalidate.SizeOf, U32(IommuHwptInvalidate.HwptId, hwpt),
                U64(IommuHwptInvalidate.DataUptr, uptr), U32(IommuHwptInvalidate.DataType, type), U32(IommuHwptInvalidate.EntryLen, entryLen),
                U32(IommuHwptInvalidate.EntryNum, entryNum)));

        public uint InvalidatedEntries => Out(IommuHwptInvalidate.EntryNum, IommuHwptInvalidate.SizeOf);

        public uint Viommu(uint idev, uint parent)
        {
            Assert.Equal(0, Ioctl(P, Fd, IommufdIoctl.ViommuAlloc, Struct(IommuViommuAlloc.SizeOf,
                U32(IommuViommuAlloc.Type, IommuTestCmd.ViommuTypeSelftest), U32(IommuViommuAlloc.DevId, idev), U32(IommuViommuAlloc.HwptId, parent))));
            return Out(IommuViommuAlloc.OutViommuId, IommuViommuAlloc.SizeOf);
        }
    }

    private static Rig Selftest()
    {
        var k = HostKernel.Boot(BuiltInHosts.Find(BuiltInHosts.SelftestHost)!);
        var p = k.CreateProcess();
        int fd = p.Open("/dev/iommu");
        Assert.Equal(0, p.Memory.Map(Mem, 1 << 20, Prot.ReadWrite));
        Assert.Equal(0, p.Memory.CopyToUser(Data, [0xef, 0xbe, 0xad, 0x0b]));
        return new Rig(k, p, fd, IoasRig.NewIoas(p, fd));
    }

    private static long ChangeProcess(Process p, IommufdContext ctx, uint reserved = 0)
    {
        MapBuffer(p);
        Assert.Equal(0, p.Memory.CopyToUser(Buf, Struct(IommuIoasChangeProcess.SizeOf, U32(IommuIoasChangeProcess.Reserved, reserved))));
        return ctx.Ioctl(p, IommufdIoctl.IoasChangeProcess, Buf);
    }

    [Fact]
    public void ChangeProcess_ReservedOrUserMemory_Fails_ElseMovesTheFilePinsAndTheirCharge()
    {
        var r = Selftest();
        r.MockDomain(r.Ioas); // a domain: maps pin at once
        Assert.Equal(Neg(Errno.EOPNOTSUPP), ChangeProcess(r.P, r.Context, reserved: 1));
        Assert.Equal(0, ChangeProcess(r.P, r.Context)); // nothing mapped
        Assert.Equal(0, Ioctl(r.P, r.Fd, IommufdIoctl.IoasMap, IoasRig.MapCmd(r.Ioas, IoasRig.FixedRw, Mem, 0x1000, IommuTestCmd.MockApertureStart)));
        Assert.Equal(Neg(Errno.EINVAL), ChangeProcess(r.P, r.Context)); // user memory cannot change process
        Assert.Equal(0, Ioctl(r.P, r.Fd, IommufdIoctl.IoasUnmap, Struct(IommuIoasUnmap.SizeOf, U32(IommuIoasUnmap.IoasId, r.Ioas),
            U64(IommuIoasUnmap.Iova, IommuTestCmd.MockApertureStart), U64(IommuIoasUnmap.Length, 0x1000))));
        int mfd = MemfdFile.Create(r.P, "ram", out var memfd);
        Assert.Equal(0, memfd.Truncate(0x2000));
        Assert.Equal(0, Ioctl(r.P, r.Fd, IommufdIoctl.IoasMapFile, Struct(IommuIoasMapFile.SizeOf, U32(IommuIoasMapFile.Flags, IoasRig.FixedRw),
            U32(IommuIoasMapFile.IoasId, r.Ioas), U32(IommuIoasMapFile.Fd, (uint)mfd), U64(IommuIoasMapFile.Length, 0x2000), U64(IommuIoasMapFile.Iova, IommuTestCmd.MockApertureStart))));
        var pages = r.Context.Objects.OfType<Ioas>().Single().Iopt.Areas.Single().Pages;
        Assert.Equal(2, r.P.Limits.PinnedPages);
        Assert.Equal(0, ChangeProcess(r.P, r.Context)); // the same process: nothing moves
        Assert.Same(r.P, pages.Owner);
        var other = r.Kernel.CreateProcess();
        Assert.Equal(0, ChangeProcess(other, r.Context));
        Assert.Same(other, pages.Owner);
        Assert.Equal((0, 2), (r.P.Limits.PinnedPages, other.Limits.PinnedPages));
        Assert.Equal(2, r.Kernel.UserLockedMemory.LockedPages); // per-user: the user's total does not change
    }

    [Fact]
    public void FaultQueueAlloc_FlagsAreEopnotsupp_ElseAQueueWhoseFdHoldsIt_AndAnIopfHwptGetsTheFaults()
    {
        var r = Selftest();
        Assert.Equal(Neg(Errno.EOPNOTSUPP), Ioctl(r.P, r.Fd, IommufdIoctl.FaultQueueAlloc, Struct(IommuFaultAlloc.SizeOf, U32(IommuFaultAlloc.Flags, 1))));
        var (faultId, faultFd) = r.FaultQueue();
        var file = r.File(faultFd);
        Assert.Equal("anon_inode:[iommufd-pgfault]", file.Name);
        Assert.Equal(Neg(Errno.EBUSY), r.Destroy(faultId)); // the fd holds it
        var (stdev, _, idev) = r.MockDomain(r.Ioas);
        Assert.Equal(0, r.Hwpt(idev, r.Ioas, IommuHwptAlloc.FlagNestParent));
        uint parent = r.HwptId;
        Assert.Equal(Neg(Errno.EOPNOTSUPP), r.Hwpt(idev, r.Ioas, IommuHwptAlloc.FlagNestParent | IommuHwptAlloc.FlagFaultIdValid));
        Assert.Equal(Neg(Errno.ENOENT), r.Hwpt(idev, parent, IommuHwptAlloc.FlagFaultIdValid, IommuTestCmd.HwptDataSelftest, 4, Data, faultId: 999));
        Assert.Empty(r.Context.Objects.OfType<HwptNested>());
        uint iopf = r.Nested(idev, parent, IommuHwptAlloc.FlagFaultIdValid, faultId);
        Assert.Equal(0, r.Replace(stdev, iopf));
        Assert.Equal(Neg(Errno.EBUSY), r.Destroy(iopf));
        // TRIGGER_IOPF: a PASID with no handle goes to the RID's nested domain (user PASID table).
        Assert.Equal(Neg(Errno.ENOENT), r.Test(IommuTestCmd.OpTriggerIopf, 0, U32(IommuTestCmd.TriggerIopfDevId, 999)));
        Assert.Equal(0, r.Test(IommuTestCmd.OpTriggerIopf, 0, U32(IommuTestCmd.TriggerIopfDevId, idev), U32(IommuTestCmd.TriggerIopfPasid, 1),
            U32(IommuTestCmd.TriggerIopfGrpid, 2), U32(IommuTestCmd.TriggerIopfPerm, 3), U64(IommuTestCmd.TriggerIopfAddr, 0xdeadbeaf)));
        var queue = (FaultQueue)file.Queue;
        Assert.Equal(1, queue.Pending);
        const ulong Buf2 = Mem + 0x1000;
        Assert.Equal(Neg(Errno.ESPIPE), file.Read(r.P.UserMemory, Buf2, 39));
        Assert.Equal(FaultQueue.FaultSize, file.Read(r.P.UserMemory, Buf2, 80));
        var f = new byte[FaultQueue.FaultSize];
        Assert.Equal(0, r.P.Memory.CopyFromUser(f, Buf2));
        Assert.Equal([FaultQueue.FlagLastPage | FaultQueue.FlagPasidValid, idev, 1u, 2u, 3u, 0u],
            Enumerable.Range(0, 6).Select(i => BinaryPrimitives.ReadUInt32LittleEndian(f.AsSpan(i * 4))).ToArray());
        Assert.Equal(0xdeadbeafUL, BinaryPrimitives.ReadUInt64LittleEndian(f.AsSpan(24)));
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(f.AsSpan(36))); // cookie
        Assert.Equal(0, file.Read(r.P.UserMemory, Buf2, 40)); // empty
        // The response: a bad code or an unknown cookie EINVAL, then the cookie is answered.
        Assert.Equal(0, r.P.Memory.CopyToUser(Buf2, [1, 0, 0, 0, 2, 0, 0, 0]));
        Assert.Equal(Neg(Errno.EINVAL), file.Write(r.P.UserMemory, Buf2, 8));
        Assert.Equal(0, r.P.Memory.CopyToUser(Buf2, [9, 0, 0, 0, 0, 0, 0, 0]));
        Assert.Equal(Neg(Errno.EINVAL), file.Write(r.P.UserMemory, Buf2, 8));
        Assert.Equal(Neg(Errno.ESPIPE), file.Write(r.P.UserMemory, Buf2, 7));
        Assert.Equal(0, r.P.Memory.CopyToUser(Buf2, [1, 0, 0, 0, 0, 0, 0, 0]));
        Assert.Equal(8, file.Write(r.P.UserMemory, Buf2, 8));
        Assert.Equal(0, queue.AwaitingResponse);
        Assert.Equal(0, r.Replace(stdev, r.Ioas));
        Assert.Equal(0, r.Destroy(iopf));
        Assert.Equal(0, r.P.Close(faultFd));
        Assert.Equal(0, r.Destroy(faultId));
    }

    [Fact]
    public void NestedHwpt_OnANestParent_ChecksItsParentAndData_AndInvalidatesItsIotlb()
    {
        var r = Selftest();
        var (stdev, auto, idev) = r.MockDomain(r.Ioas);
        Assert.Equal(0, r.Hwpt(idev, r.Ioas, IommuHwptAlloc.FlagNestParent));
        uint parent = r.HwptId;
        Assert.Equal(0, r.Hwpt(idev, r.Ioas, 0));
        uint notParent = r.HwptId;
        Assert.Equal(Neg(Errno.EOPNOTSUPP), r.Hwpt(idev, parent, 0)); // no data
        Assert.Equal(Neg(Errno.EOPNOTSUPP), r.Hwpt(idev, parent, 0, IommuTestCmd.HwptDataSelftest + 1, 4));
        Assert.Equal(Neg(Errno.EINVAL), r.Hwpt(idev, parent, 0, IommuTestCmd.HwptDataSelftest, 3));
        Assert.Equal(Neg(Errno.EFAULT), r.Hwpt(idev, parent, 0, IommuTestCmd.HwptDataSelftest, 4, uptr: 0));
        Assert.Equal(Neg(Errno.EOPNOTSUPP), r.Hwpt(idev, parent, IommuHwptAlloc.FlagNestParent, IommuTestCmd.HwptDataSelftest, 4));
        Assert.Equal(Neg(Errno.EINVAL), r.Hwpt(idev, notParent, 0, IommuTestCmd.HwptDataSelftest, 4));
        Assert.Equal(Neg(Errno.EINVAL), r.Hwpt(idev, auto, 0, IommuTestCmd.HwptDataSelftest, 4)); // an automatic domain
        uint nested = r.Nested(idev, parent);
        Assert.Equal(Neg(Errno.EINVAL), r.Hwpt(idev, nested, 0, IommuTestCmd.HwptDataSelftest, 4)); // not on a nested HWPT
        Assert.Equal(Neg(Errno.EBUSY), r.Destroy(parent));
        var n = r.Context.Objects.OfType<HwptNested>().Single();
        Assert.All(n.Iotlb, v => Assert.Equal(0xbadbeefu, v));
        // IOMMU_HWPT_INVALIDATE: a paging HWPT EINVAL; the selftest type with no entries 0; another type, or entry_len other than 8 EINVAL.
        const ulong Entries = Data + 0x100;
        void Entry(int i, uint flags, uint id) => Assert.Equal(0, r.P.Memory.CopyToUser(Entries + (ulong)i * 8,
            [.. BitConverter.GetBytes(flags), .. BitConverter.GetBytes(id)]));
        Entry(0, 0, 0);
        Assert.Equal(Neg(Errno.EINVAL), r.Invalidate(parent, IommuTestCmd.HwptInvalidateDataSelftest, 8, 1));
        Assert.Equal(0, r.Invalidate(nested, IommuTestCmd.HwptInvalidateDataSelftest, 8, 0));
        Assert.Equal(Neg(Errno.EINVAL), r.Invalidate(nested, 0xdadbeef, 8, 1));
        Assert.Equal(Neg(Errno.EINVAL), r.Invalidate(nested, IommuTestCmd.HwptInvalidateDataSelftest, 9, 1));
        Assert.Equal(Neg(Errno.EINVAL), r.Invalidate(nested, IommuTestCmd.HwptInvalidateDataSelftest, 1, 1));
        Entry(0, 0, 4);
        Assert.Equal(Neg(Errno.EINVAL), r.Invalidate(nested, IommuTestCmd.HwptInvalidateDataSelftest, 8, 1));
        Assert.Equal(0u, r.InvalidatedEntries);
        // Entry 0 applies, entry 1 fails: entry_num comes back 1.
        Entry(0, 0, 0);
        Entry(1, 0xffffffff, 1);
        Assert.Equal(Neg(Errno.EOPNOTSUPP), r.Invalidate(nested, IommuTestCmd.HwptInvalidateDataSelftest, 8, 2));
        Assert.Equal(1u, r.InvalidatedEntries);
        Assert.Equal([0u, 0xbadbeef, 0xbadbeef, 0xbadbeef], n.Iotlb);
        Entry(0, 1, 0); // FLAG_ALL
        Assert.Equal(0, r.Invalidate(nested, IommuTestCmd.HwptInvalidateDataSelftest, 8, 1));
        Assert.All(n.Iotlb, v => Assert.Equal(0u, v));
        // The mock device attaches to it and makes it busy; replacing moves it back.
        Assert.Equal(0, r.Replace(stdev, nested));
        Assert.Equal(Neg(Errno.EBUSY), r.Destroy(nested));
        Assert.Equal(0, r.Replace(stdev, parent));
        Assert.Equal(0, r.Destroy(nested));
        Assert.Equal(0, r.Replace(stdev, r.Ioas));
        Assert.Equal(0, r.Destroy(parent));
    }

    [Fact]
    public void Veventq_OnePerTypePerViommu_TriggeredByAMockDeviceOnItsNestedHwpt_WithLostEventsPastItsDepth()
    {
        var r = Selftest();
        var (stdev, _, idev) = r.MockDomain(r.Ioas);
        Assert.Equal(0, r.Hwpt(idev, r.Ioas, IommuHwptAlloc.FlagNestParent));
        uint viommu = r.Viommu(idev, r.HwptId);
        uint nested = r.Nested(idev, viommu);
        long Alloc(uint type, uint depth, uint flags = 0, uint vi = 0) => Ioctl(r.P, r.Fd, IommufdIoctl.VeventqAlloc, Struct(IommuVeventqAlloc.SizeOf,
            U32(IommuVeventqAlloc.Flags, flags), U32(IommuVeventqAlloc.ViommuId, vi == 0 ? viommu : vi), U32(IommuVeventqAlloc.Type, type), U32(IommuVeventqAlloc.VeventqDepth, depth)));
        Assert.Equal(Neg(Errno.EOPNOTSUPP), Alloc(0, 2));
        Assert.Equal(Neg(Errno.EOPNOTSUPP), Alloc(IommuTestCmd.VeventqTypeSelftest, 2, flags: 1));
        Assert.Equal(Neg(Errno.EINVAL), Alloc(IommuTestCmd.VeventqTypeSelftest, 0));
        Assert.Equal(Neg(Errno.ENOENT), Alloc(IommuTestCmd.VeventqTypeSelftest, 2, vi: 999));
        // Without a vDevice the device cannot attach to the vIOMMU's nested HWPT, and no vEVENT comes.
        Assert.Equal(Neg(Errno.ENOENT), r.Replace(stdev, nested));
        long Trigger() => r.Test(IommuTestCmd.OpTriggerVevent, 0, U32(IommuTestCmd.TriggerVeventDevId, idev));
        Assert.Equal(Neg(Errno.ENOENT), Trigger());
        Assert.Equal(0, Alloc(IommuTestCmd.VeventqTypeSelftest, 2));
        uint qid = r.Out(IommuVeventqAlloc.OutVeventqId, IommuVeventqAlloc.SizeOf);
        int qfd = (int)r.Out(IommuVeventqAlloc.OutVeventqFd, IommuVeventqAlloc.SizeOf);
        Assert.Equal(Neg(Errno.EEXIST), Alloc(IommuTestCmd.VeventqTypeSelftest, 2));
        Assert.Equal(Neg(Errno.EBUSY), r.Destroy(viommu));
        Assert.Equal(0, Ioctl(r.P, r.Fd, IommufdIoctl.VdeviceAlloc, Struct(IommuVdeviceAlloc.SizeOf, U32(IommuVdeviceAlloc.ViommuId, viommu),
            U32(IommuVdeviceAlloc.DevId, idev), U64(IommuVdeviceAlloc.VirtId, 0x88))));
        uint vdev = r.Out(IommuVdeviceAlloc.OutVdeviceId, IommuVdeviceAlloc.SizeOf);
        Assert.Equal(Neg(Errno.ENOENT), Trigger()); // not attached to the nested HWPT yet
        Assert.Equal(0, r.Replace(stdev, nested));
        for (int i = 0; i < 3; i++) Assert.Equal(0, Trigger());
        var file = r.File(qfd);
        const ulong Buf2 = Mem + 0x1000;
        // Depth 2: two events (header {flags, sequence} + virt_id), then the lost-events header.
        Assert.Equal(12 + 12 + 8, file.Read(r.P.UserMemory, Buf2, 64));
        var b = new byte[32];
        Assert.Equal(0, r.P.Memory.CopyFromUser(b, Buf2));
        Assert.Equal([0u, 0u, 0x88u, 0u, 1u, 0x88u, Veventq.FlagLostEvents, 2u],
            Enumerable.Range(0, 8).Select(i => BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(i * 4))).ToArray());
        Assert.Equal(0, file.Read(r.P.UserMemory, Buf2, 64));
        Assert.Equal(0, Trigger());
        Assert.Equal(12, file.Read(r.P.UserMemory, Buf2, 64));
        Assert.Equal(0, r.Replace(stdev, r.Ioas));
        Assert.Equal(0, r.Destroy(vdev));
        Assert.Equal(0, r.P.Close(qfd));
        Assert.Equal(0, r.Destroy(qid));
        Assert.Equal(0, r.Destroy(nested));
        Assert.Equal(0, r.Destroy(viommu));
    }

    [Fact]
    public void HwQueueAlloc_ChecksTheRangeIndexAndOrder_AndLocksItsPagesAgainstUnmap()
    {
        var r = Selftest();
        var (_, _, idev) = r.MockDomain(r.Ioas);
        Assert.Equal(0, r.Hwpt(idev, r.Ioas, IommuHwptAlloc.FlagNestParent));
        uint viommu = r.Viommu(idev, r.HwptId);
        const ulong Iova = IommuTestCmd.MockApertureStart;
        long Alloc(uint type, uint index, ulong iova, ulong length, uint vi = 0) => Ioctl(r.P, r.Fd, IommufdIoctl.HwQueueAlloc, Struct(IommuHwQueueAlloc.SizeOf,
            U32(IommuHwQueueAlloc.ViommuId, vi == 0 ? viommu : vi), U32(IommuHwQueueAlloc.Type, type), U32(IommuHwQueueAlloc.Index, index),
            U64(IommuHwQueueAlloc.NestingParentIova, iova), U64(IommuHwQueueAlloc.Length, length)));
        uint Id() => r.Out(IommuHwQueueAlloc.OutHwQueueId, IommuHwQueueAlloc.SizeOf);
        const uint T = IommuTestCmd.HwQueueTypeSelftest;
        Assert.Equal(Neg(Errno.EOPNOTSUPP), Alloc(0, 0, Iova, 4096));
        Assert.Equal(Neg(Errno.EINVAL), Alloc(T, 0, Iova, 0));
        Assert.Equal(Neg(Errno.EOVERFLOW), Alloc(T, 0, ulong.MaxValue, 4096));
        Assert.Equal(Neg(Errno.ENOENT), Alloc(T, 0, Iova, 4096, vi: 999));
        Assert.Equal(Neg(Errno.ENOENT), Alloc(T, 0, Iova, 4096)); // nothing mapped there
        Assert.Equal(0, Ioctl(r.P, r.Fd, IommufdIoctl.IoasMap, IoasRig.MapCmd(r.Ioas, IoasRig.FixedRw, Mem, 0x1000, Iova)));
        Assert.Equal(0, Ioctl(r.P, r.Fd, IommufdIoctl.IoasMap, IoasRig.MapCmd(r.Ioas, IoasRig.FixedRw, Mem + 0x1000, 0x1000, Iova + 0x1000)));
        Assert.Equal(Neg(Errno.EFAULT), Alloc(T, 0, Iova, 0x2000)); // two pages: not known to be contiguous
        Assert.Equal(Neg(Errno.EIO), Alloc(T, 1, Iova, 4096));
        Assert.Equal(Neg(Errno.EINVAL), Alloc(T, 2, Iova, 4096));
        Assert.Equal(0, Alloc(T, 0, Iova, 4096));
        uint q0 = Id();
        // Its internal access takes the next id; the driver holds it (EBUSY), and it holds the IOAS.
        Assert.Equal(IommufdObjectType.Access, r.Context.Objects.Single(o => o.Id == q0 + 1).Type);
        Assert.Equal(Neg(Errno.EBUSY), r.Destroy(q0 + 1));
        Assert.Equal(Neg(Errno.EEXIST), Alloc(T, 0, Iova, 4096));
        long Unmap(ulong iova) => Ioctl(r.P, r.Fd, IommufdIoctl.IoasUnmap, Struct(IommuIoasUnmap.SizeOf, U32(IommuIoasUnmap.IoasId, r.Ioas),
            U64(IommuIoasUnmap.Iova, iova), U64(IommuIoasUnmap.Length, 0x1000)));
        Assert.Equal(Neg(Errno.EBUSY), Unmap(Iova));
        Assert.Equal(0, Unmap(Iova + 0x1000));
        Assert.Equal(0, Alloc(T, 1, Iova + 0x800, 0x800));
        uint q1 = Id();
        Assert.Equal(Neg(Errno.EBUSY), r.Destroy(q0)); // q1 depends on it
        Assert.Equal(Neg(Errno.EBUSY), r.Destroy(viommu));
        Assert.Equal(0, r.Destroy(q1));
        Assert.Equal(0, r.Destroy(q0));
        Assert.Equal(0, Unmap(Iova));
        Assert.Equal(0, r.Destroy(viommu));
        Assert.DoesNotContain(r.Context.Objects, o => o.Type == IommufdObjectType.Access);
    }

    [Fact]
    public void PasidOps_AttachReplaceDetachAndCheck_FollowThePasidCompatRules()
    {
        var r = Selftest();
        var (stdev, _, idev) = r.MockDomain(r.Ioas, IommuTestCmd.MockFlagPasid);
        var (plainStdev, _, _) = r.MockDomain(r.Ioas);
        long Op(uint op, uint sobj, uint pasid, uint pt = 0) => r.Test(op, sobj, U32(IommuTestCmd.PasidPasid, pasid), U32(IommuTestCmd.PasidPtId, pt));
        long Check(uint pasid, uint hwpt) => Op(IommuTestCmd.OpPasidCheckHwpt, stdev, pasid, hwpt);
        Assert.Equal(0, Op(IommuTestCmd.OpPasidDetach, stdev, 100)); // nothing attached: no error
        Assert.Equal(Neg(Errno.ENOENT), Op(IommuTestCmd.OpPasidAttach, 999, 100, 1));
        Assert.Equal(0, r.Hwpt(idev, r.Ioas, IommuHwptAlloc.FlagNestParent));
        uint parent = r.HwptId;
        Assert.Equal(0, r.Hwpt(idev, r.Ioas, IommuHwptAlloc.FlagPasid));
        uint s2 = r.HwptId;
        uint nested = r.Nested(idev, parent, IommuHwptAlloc.FlagPasid);
        // The RID on a domain that is not PASID-compatible: no PASID attaches.
        Assert.Equal(0, r.Replace(stdev, parent));
        Assert.Equal(Neg(Errno.EINVAL), Op(IommuTestCmd.OpPasidAttach, stdev, 100, s2));
        Assert.Equal(0, r.Replace(stdev, s2));
        Assert.Equal(Neg(Errno.EINVAL), Op(IommuTestCmd.OpPasidAttach, stdev, 100, parent)); // not PASID-compatible
        Assert.Equal(Neg(Errno.EINVAL), Op(IommuTestCmd.OpPasidAttach, stdev, 100, r.Ioas));
        Assert.Equal(Neg(Errno.EINVAL), Op(IommuTestCmd.OpPasidAttach, plainStdev, 100, s2)); // a device without PASIDs
        Assert.Equal(0, Op(IommuTestCmd.OpPasidAttach, stdev, 100, nested));
        Assert.Equal(0, Check(100, nested));
        Assert.Equal(Neg(Errno.EINVAL), Check(100, s2));
        Assert.Equal(Neg(Errno.EINVAL), Check(100, 0));
        Assert.Equal(Neg(Errno.EBUSY), Op(IommuTestCmd.OpPasidAttach, stdev, 100, nested));
        Assert.Equal(Neg(Errno.EINVAL), r.Replace(stdev, parent)); // a PASID is attached: the RID stays PASID-compatible
        Assert.Equal(Neg(Errno.EBUSY), r.Destroy(nested));
        Assert.Equal(0, Op(IommuTestCmd.OpPasidDetach, stdev, 100));
        Assert.Equal(0, Check(100, 0));
        // Replace: not attached EINVAL; an IOAS EINVAL; PASID 1024 fails its second attach (ENOMEM) and keeps the old one.
        Assert.Equal(Neg(Errno.EINVAL), Op(IommuTestCmd.OpPasidReplace, stdev, 200, s2));
        Assert.Equal(0, Op(IommuTestCmd.OpPasidAttach, stdev, 200, s2));
        Assert.Equal(Neg(Errno.EINVAL), Op(IommuTestCmd.OpPasidReplace, stdev, 200, r.Ioas));
        Assert.Equal(0, Op(IommuTestCmd.OpPasidReplace, stdev, 200, nested));
        Assert.Equal(0, Check(200, nested));
        Assert.Equal(0, Op(IommuTestCmd.OpPasidDetach, stdev, 200));
        Assert.Equal(0, Op(IommuTestCmd.OpPasidAttach, stdev, 1024, s2));
        Assert.Equal(Neg(Errno.ENOMEM), Op(IommuTestCmd.OpPasidReplace, stdev, 1024, nested));
        Assert.Equal(0, Check(1024, s2));
        Assert.Equal(0, Op(IommuTestCmd.OpPasidDetach, stdev, 1024));
        Assert.Equal(0, r.Destroy(nested));
    }

    /// <summary>A sink that records what is pushed; <see cref="Drained"/> as the test says.</summary>
    private sealed class RecordingSink : IStreamSink
    {
        public List<byte[]> Pushed { get; } = new();
        public bool Drained { get; set; }
        public bool Push(ReadOnlySpan<byte> data)
        {
            Pushed.Add(data.ToArray());
            Drained = false;
            return true;
        }
    }

    [Fact]
    public void ConnectedQueues_PushEachRecordWhenQueued_TakeResponsesFromTheStream_AndCountVeventsReadOnceDrained()
    {
        var r = Selftest();
        var (stdev, _, idev) = r.MockDomain(r.Ioas);
        Assert.Equal(0, r.Hwpt(idev, r.Ioas, IommuHwptAlloc.FlagNestParent));
        uint parent = r.HwptId;
        var (faultId, faultFd) = r.FaultQueue();
        var faultSink = new RecordingSink();
        r.File(faultFd).Connect(faultSink);
        Assert.Equal(0, r.Replace(stdev, r.Nested(idev, parent, IommuHwptAlloc.FlagFaultIdValid, faultId)));
        Assert.Equal(0, r.Test(IommuTestCmd.OpTriggerIopf, 0, U32(IommuTestCmd.TriggerIopfDevId, idev)));
        var queue = (FaultQueue)r.File(faultFd).Queue;
        Assert.Equal((0, 1), (queue.Pending, queue.AwaitingResponse)); // pushed counts as read: the cookie is given
        Assert.Equal(FaultQueue.FaultSize, Assert.Single(faultSink.Pushed).Length);
        // The response may arrive in pieces.
        r.File(faultFd).Written([1, 0, 0]);
        Assert.Equal(1, queue.AwaitingResponse);
        r.File(faultFd).Written([0, 0, 0, 0, 0]);
        Assert.Equal(0, queue.AwaitingResponse);

        uint viommu = r.Viommu(idev, parent);
        Assert.Equal(0, Ioctl(r.P, r.Fd, IommufdIoctl.VeventqAlloc, Struct(IommuVeventqAlloc.SizeOf, U32(IommuVeventqAlloc.ViommuId, viommu),
            U32(IommuVeventqAlloc.Type, IommuTestCmd.VeventqTypeSelftest), U32(IommuVeventqAlloc.VeventqDepth, 1))));
        int qfd = (int)r.Out(IommuVeventqAlloc.OutVeventqFd, IommuVeventqAlloc.SizeOf);
        var sink = new RecordingSink();
        r.File(qfd).Connect(sink);
        Assert.Equal(0, Ioctl(r.P, r.Fd, IommufdIoctl.VdeviceAlloc, Struct(IommuVdeviceAlloc.SizeOf, U32(IommuVdeviceAlloc.ViommuId, viommu),
            U32(IommuVdeviceAlloc.DevId, idev), U64(IommuVdeviceAlloc.VirtId, 7))));
        Assert.Equal(0, r.Replace(stdev, r.Nested(idev, viommu)));
        long Trigger() => r.Test(IommuTestCmd.OpTriggerVevent, 0, U32(IommuTestCmd.TriggerVeventDevId, idev));
        Assert.Equal(0, Trigger());
        Assert.Equal(0, Trigger()); // not drained: depth 1 reached, the lost-events header
        Assert.Equal([12, 8], sink.Pushed.Select(b => b.Length));
        Assert.Equal(Veventq.FlagLostEvents, BinaryPrimitives.ReadUInt32LittleEndian(sink.Pushed[1]));
        sink.Drained = true; // the program read everything
        Assert.Equal(0, Trigger());
        Assert.Equal(12, sink.Pushed[2].Length);
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32LittleEndian(sink.Pushed[2].AsSpan(4))); // the next sequence
    }
}
