using System.Buffers.Binary;
using TsmLab.Abi;
using TsmLab.Hosts;
using TsmLab.Kernel;
using TsmLab.Kernel.Iommufd;
using TsmLab.Kernel.Iommufd.Selftest;
using TsmLab.Vmm;
using static TsmLab.Tests.Kernel.Raw;

namespace TsmLab.Tests.Kernel.Iommufd;

/// <summary>The mock driver's devices and domains: IOMMU_TEST_CMD MOCK_DOMAIN(_FLAGS/_REPLACE), MD_CHECK_MAP, DEV_CHECK_CACHE (docs/errno.md).</summary>
public class MockDomainTests
{
    private const ulong Mem = 0x2000_0000;

    private sealed record Rig(HostKernel Kernel, Process P, int Fd, uint Ioas)
    {
        public IommufdContext Context => Kernel.IommufdContexts.Single();
        public Ioas IoasObject => Context.Objects.OfType<Ioas>().Single(i => i.Id == Ioas);

        public long Test(uint op, uint id, params (int, ulong, int)[] fields) =>
            Ioctl(P, Fd, IommuTestCmd.Number, Struct(IommuTestCmd.SizeOf, [U32(IommuTestCmd.Op, op), U32(IommuTestCmd.Id, id), .. fields]));

        public uint Out(int offset) => BinaryPrimitives.ReadUInt32LittleEndian(Read(P, IommuTestCmd.SizeOf).AsSpan(offset));

        /// <summary>MOCK_DOMAIN(_FLAGS) on <paramref name="pt"/>: (stdev, hwpt, idev).</summary>
        public (uint Stdev, uint Hwpt, uint Idev) MockDomain(uint pt, uint? flags = null)
        {
            long rc = flags is { } f ? Test(IommuTestCmd.OpMockDomainFlags, pt, U32(IommuTestCmd.MockDomainDevFlags, f)) : Test(IommuTestCmd.OpMockDomain, pt);
            Assert.Equal(0, rc);
            return (Out(IommuTestCmd.MockDomainOutStdevId), Out(IommuTestCmd.MockDomainOutHwptId), Out(IommuTestCmd.MockDomainOutIdevId));
        }

        public long Destroy(uint id) => Ioctl(P, Fd, IommufdIoctl.Destroy, Struct(IommuDestroy.SizeOf, U32(IommuDestroy.Id, id)));

        public long Map(ulong uva, ulong length, ulong iova, uint? ioas = null) =>
            Ioctl(P, Fd, IommufdIoctl.IoasMap, IoasRig.MapCmd(ioas ?? Ioas, IoasRig.FixedRw, uva, length, iova));

        public long CheckMap(uint hwpt, ulong iova, ulong length, ulong uptr) =>
            Test(IommuTestCmd.OpMdCheckMap, hwpt, U64(IommuTestCmd.CheckMapIova, iova), U64(IommuTestCmd.CheckMapLength, length), U64(IommuTestCmd.CheckMapUptr, uptr));
    }

    private static Rig Selftest()
    {
        var k = HostKernel.Boot(BuiltInHosts.Find(BuiltInHosts.SelftestHost)!);
        var p = k.CreateProcess();
        int fd = p.Open("/dev/iommu");
        Assert.Equal(0, p.Memory.Map(Mem, 1 << 20, Prot.ReadWrite));
        return new Rig(k, p, fd, IoasRig.NewIoas(p, fd));
    }

    [Fact]
    public void MockDomain_BindsAMockDeviceAttachedToAnAutomaticMockDomain_AndDestroyingTheStdevUndoesIt()
    {
        var r = Selftest();
        var (stdev, hwpt, idev) = r.MockDomain(r.Ioas);
        // Ids in the kernel's order: the selftest object, the device, the automatic domain.
        Assert.Equal((r.Ioas + 1, r.Ioas + 2, r.Ioas + 3), (stdev, idev, hwpt));
        var dev = r.Context.Objects.OfType<IommufdDevice>().Single();
        Assert.Null(dev.Function);
        Assert.Null(dev.File);
        Assert.NotNull(dev.Mock);
        Assert.Equal(IommufdObjectType.Selftest, r.Context.Objects.Single(o => o.Id == stdev).Type);
        // The mock IOMMU: 2 KiB IO pages, aperture [1 << 24, (1 << 31) - 1].
        Assert.Equal(IommuTestCmd.MockIoPageSize, r.IoasObject.Iopt.IovaAlignment);
        Assert.Contains(r.IoasObject.Iopt.Reserved, v => v.Start == 0 && v.Last == IommuTestCmd.MockApertureStart - 1);
        Assert.Contains(r.IoasObject.Iopt.Reserved, v => v.Start == IommuTestCmd.MockApertureLast + 1 && v.Last == ulong.MaxValue);
        // A second mock device on the IOAS reuses the automatic domain (iommufd_device_auto_get_domain).
        var second = r.MockDomain(r.Ioas);
        Assert.Equal(hwpt, second.Hwpt);
        // The device and the domain are held; the selftest object is what userspace destroys.
        Assert.Equal(Neg(Errno.EBUSY), r.Destroy(idev));
        Assert.Equal(Neg(Errno.EBUSY), r.Destroy(hwpt));
        Assert.Equal(0, r.Destroy(stdev));
        Assert.Equal(Neg(Errno.ENOENT), r.Destroy(idev));
        Assert.Equal(Neg(Errno.EBUSY), r.Destroy(hwpt));
        Assert.Equal(0, r.Destroy(second.Stdev));
        Assert.Equal(Neg(Errno.ENOENT), r.Destroy(hwpt));
        Assert.Equal(0, r.IoasObject.Iopt.DomainCount);
        Assert.Equal(1ul, r.IoasObject.Iopt.IovaAlignment);
        // Closing the iommufd with a mock device still attached tears everything down.
        r.MockDomain(r.Ioas);
        Assert.Equal(0, r.P.Close(r.Fd));
        Assert.Empty(r.Kernel.IommufdContexts);
    }

    [Fact]
    public void MockDomain_RefusesUnknownDevFlagsAndBadPageTables_LeavingNoObjectBehind()
    {
        var r = Selftest();
        Assert.Equal(Neg(Errno.EINVAL), r.Test(IommuTestCmd.OpMockDomainFlags, r.Ioas, U32(IommuTestCmd.MockDomainDevFlags, 8)));
        Assert.Equal(Neg(Errno.ENOENT), r.Test(IommuTestCmd.OpMockDomain, 999));
        Assert.Single(r.Context.Objects);
        var (stdev, hwpt, _) = r.MockDomain(r.Ioas, IommuTestCmd.MockFlagNoDirty | IommuTestCmd.MockFlagHugeIova | IommuTestCmd.MockFlagPasid);
        // A selftest object is neither an IOAS nor a HWPT.
        int before = r.Context.Objects.Count();
        Assert.Equal(Neg(Errno.EINVAL), r.Test(IommuTestCmd.OpMockDomain, stdev));
        Assert.Equal(before, r.Context.Objects.Count());
        // A paging HWPT id attaches to that HWPT; plain MOCK_DOMAIN ignores the dev_flags field.
        var onHwpt = r.MockDomain(hwpt);
        Assert.Equal(hwpt, onHwpt.Hwpt);
        Assert.Equal(0, r.Test(IommuTestCmd.OpMockDomain, r.Ioas, U32(IommuTestCmd.MockDomainDevFlags, 0xFF)));
    }

    [Fact]
    public void MockDomain_OnAHostWithoutConfigIommufdTest_IsEnotty()
    {
        var k = HostKernel.Boot(BuiltInHosts.Find("default")!);
        var p = k.CreateProcess();
        int fd = p.Open("/dev/iommu");
        Assert.Equal(Neg(Errno.ENOTTY), Ioctl(p, fd, IommuTestCmd.Number, Struct(IommuTestCmd.SizeOf, U32(IommuTestCmd.Op, IommuTestCmd.OpMockDomain), U32(IommuTestCmd.Id, IoasRig.NewIoas(p, fd)))));
    }

    [Fact]
    public void GetHwInfo_OfAMockDevice_IsTheSelftestType_WithItsPasidWidthAndDirtyCapability()
    {
        var r = Selftest();
        var plain = r.MockDomain(r.Ioas);
        var pasid = r.MockDomain(r.Ioas, IommuTestCmd.MockFlagPasid | IommuTestCmd.MockFlagNoDirty);
        const ulong Data = Mem + 0x1000;
        byte[] Info(uint dev)
        {
            Assert.Equal(0, Ioctl(r.P, r.Fd, IommufdIoctl.GetHwInfo, Struct(IommuHwInfo.SizeOf, U32(IommuHwInfo.DevId, dev), U32(IommuHwInfo.DataLen, 16), U64(IommuHwInfo.DataUptr, Data))));
            return Read(r.P, IommuHwInfo.SizeOf);
        }
        var a = Info(plain.Idev);
        Assert.Equal(IommuTestCmd.HwInfoTypeSelftest, BinaryPrimitives.ReadUInt32LittleEndian(a.AsSpan(IommuHwInfo.DataType)));
        Assert.Equal(8u, BinaryPrimitives.ReadUInt32LittleEndian(a.AsSpan(IommuHwInfo.DataLen)));
        Assert.Equal(0, a[IommuHwInfo.OutMaxPasidLog2]);
        Assert.Equal(IommuHwInfo.CapDirtyTracking, BinaryPrimitives.ReadUInt64LittleEndian(a.AsSpan(IommuHwInfo.OutCapabilities)));
        var data = Read(r.P, 16, Data);
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(data));
        Assert.Equal(IommuTestCmd.HwInfoSelftestRegval, BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(4)));
        Assert.Equal(0ul, BinaryPrimitives.ReadUInt64LittleEndian(data.AsSpan(8)));
        var b = Info(pasid.Idev);
        Assert.Equal(IommuTestCmd.MockPasidWidth, b[IommuHwInfo.OutMaxPasidLog2]);
        Assert.Equal(0ul, BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(IommuHwInfo.OutCapabilities)));
    }

    [Fact]
    public void MockDevice_GetsOnlyTheSelftestViommu_WithoutKvm_AndNoPciFunction()
    {
        var r = Selftest();
        var (_, _, idev) = r.MockDomain(r.Ioas);
        uint parent = HwptAlloc(r, idev, r.Ioas, IommuHwptAlloc.FlagNestParent, out long rc);
        Assert.Equal(0, rc);
        long Alloc(uint type, uint dataLen = 0) => Ioctl(r.P, r.Fd, IommufdIoctl.ViommuAlloc, Struct(IommuViommuAlloc.SizeOf,
            U32(IommuViommuAlloc.Type, type), U32(IommuViommuAlloc.DevId, idev), U32(IommuViommuAlloc.HwptId, parent),
            U32(IommuViommuAlloc.DataLen, dataLen), U64(IommuViommuAlloc.DataUptr, Mem)));
        // The mock IOMMU implements only IOMMU_VIOMMU_TYPE_SELFTEST; its user data (an mmap region) is not served.
        Assert.Equal(Neg(Errno.EOPNOTSUPP), Alloc(IommuViommuAlloc.TypeArmRealmSmmuV3OrAmd));
        Assert.Equal(Neg(Errno.EOPNOTSUPP), Alloc(IommuTestCmd.ViommuTypeSelftest, 24));
        // Without data it needs no KVM (the ENODEV rule is the TSM path's).
        Assert.Equal(0, Alloc(IommuTestCmd.ViommuTypeSelftest));
        var viommu = r.Context.Objects.OfType<Viommu>().Single();
        Assert.Null(viommu.Kvm);
        Assert.Null(r.Context.Objects.OfType<IommufdDevice>().Single().Function);
        Assert.Equal(Neg(Errno.EBUSY), r.Destroy(parent));
        Assert.Equal(0, r.Destroy(viommu.Id));
        Assert.Equal(0, r.Destroy(parent));
    }

    [Fact]
    public void NestedHwpt_OnTheMockViommu_TakesSelftestData_WhichMdCheckIotlbReads_AndHoldsTheViommu()
    {
        var r = Selftest();
        var (_, _, idev) = r.MockDomain(r.Ioas);
        uint parent = HwptAlloc(r, idev, r.Ioas, IommuHwptAlloc.FlagNestParent, out long rc);
        Assert.Equal(0, Ioctl(r.P, r.Fd, IommufdIoctl.ViommuAlloc, Struct(IommuViommuAlloc.SizeOf,
            U32(IommuViommuAlloc.Type, IommuTestCmd.ViommuTypeSelftest), U32(IommuViommuAlloc.DevId, idev), U32(IommuViommuAlloc.HwptId, parent))));
        uint viommu = r.Context.Objects.OfType<Viommu>().Single().Id;
        const ulong Data = Mem + 0x1000;
        Assert.Equal(0, r.P.Memory.CopyToUser(Data, [0xef, 0xbe, 0xad, 0x0b, 0, 0, 0, 0, 1]));
        long Nested(uint flags, uint type, uint len, ulong uptr = Data) => Ioctl(r.P, r.Fd, IommufdIoctl.HwptAlloc, Struct(IommuHwptAlloc.SizeOf,
            U32(IommuHwptAlloc.Flags, flags), U32(IommuHwptAlloc.DevId, idev), U32(IommuHwptAlloc.PtId, viommu),
            U32(IommuHwptAlloc.DataType, type), U32(IommuHwptAlloc.DataLen, len), U64(IommuHwptAlloc.DataUptr, uptr)));
        Assert.Equal(Neg(Errno.EOPNOTSUPP), Nested(IommuHwptAlloc.FlagNestParent, IommuTestCmd.HwptDataSelftest, 4));
        Assert.Equal(Neg(Errno.ENOENT), Nested(IommuHwptAlloc.FlagFaultIdValid, IommuTestCmd.HwptDataSelftest, 4)); // fault_id 0 is no fault queue
        Assert.Equal(Neg(Errno.EOPNOTSUPP), Nested(0, 1, 4));
        Assert.Equal(Neg(Errno.EINVAL), Nested(0, IommuTestCmd.HwptDataSelftest, 2));
        Assert.Equal(Neg(Errno.EINVAL), Nested(0, IommuTestCmd.HwptDataSelftest, 8)); // longer than the kernel's struct (iommu_copy_struct_from_user)
        Assert.Equal(Neg(Errno.EFAULT), Nested(0, IommuTestCmd.HwptDataSelftest, 4, 0x10));
        Assert.Empty(r.Context.Objects.OfType<HwptNested>());
        Assert.Equal(0, Nested(0, IommuTestCmd.HwptDataSelftest, 4));
        var nested = r.Context.Objects.OfType<HwptNested>().Single();
        Assert.All(nested.Iotlb, v => Assert.Equal(0xbadbeefu, v));
        // MD_CHECK_IOTLB: a nested HWPT's entry 0..3 against the value; anything else ENOENT / EINVAL.
        long CheckIotlb(uint id, uint entry, uint value) => r.Test(IommuTestCmd.OpMdCheckIotlb, id, U32(IommuTestCmd.CheckIotlbId, entry), U32(IommuTestCmd.CheckIotlbValue, value));
        Assert.Equal(0, CheckIotlb(nested.Id, 3, 0xbadbeef));
        Assert.Equal(Neg(Errno.EINVAL), CheckIotlb(nested.Id, 4, 0xbadbeef));
        Assert.Equal(Neg(Errno.EINVAL), CheckIotlb(nested.Id, 0, 0));
        Assert.Equal(Neg(Errno.ENOENT), CheckIotlb(parent, 0, 0xbadbeef));
        Assert.Equal(Neg(Errno.EBUSY), r.Destroy(viommu));
        Assert.Equal(0, r.Destroy(nested.Id));
        Assert.Equal(0, r.Destroy(viommu));
    }

    /// <summary>A mock device with a nest-parent HWPT, the mock vIOMMU on it: (idev, stdev, viommu).</summary>
    private static (uint Idev, uint Stdev, uint Viommu) MockViommu(Rig r)
    {
        var (stdev, _, idev) = r.MockDomain(r.Ioas);
        uint parent = HwptAlloc(r, idev, r.Ioas, IommuHwptAlloc.FlagNestParent, out long rc);
        Assert.Equal(0, rc);
        Assert.Equal(0, Ioctl(r.P, r.Fd, IommufdIoctl.ViommuAlloc, Struct(IommuViommuAlloc.SizeOf,
            U32(IommuViommuAlloc.Type, IommuTestCmd.ViommuTypeSelftest), U32(IommuViommuAlloc.DevId, idev), U32(IommuViommuAlloc.HwptId, parent))));
        return (idev, stdev, r.Context.Objects.OfType<Viommu>().Single().Id);
    }

    private static long VdeviceAlloc(Rig r, uint viommu, uint idev, ulong virtId) => Ioctl(r.P, r.Fd, IommufdIoctl.VdeviceAlloc, Struct(IommuVdeviceAlloc.SizeOf,
        U32(IommuVdeviceAlloc.ViommuId, viommu), U32(IommuVdeviceAlloc.DevId, idev), U64(IommuVdeviceAlloc.VirtId, virtId)));

    [Fact]
    public void Vdevice_OfAMockDevice_OnTheMockViommu_GoesWithTheDevice_AndReachesNoTsm()
    {
        var r = Selftest();
        var (idev, stdev, viommu) = MockViommu(r);
        Assert.Equal(0, VdeviceAlloc(r, viommu, idev, 0x99));
        uint vdev = r.Context.Objects.OfType<Vdevice>().Single().Id;
        Assert.Equal(Neg(Errno.EEXIST), VdeviceAlloc(r, viommu, idev, 0x98));
        // The TSM ioctls see no KVM behind the mock vIOMMU: ENODEV, as TSM_OP for a vIOMMU without one.
        Assert.Equal(Neg(Errno.ENODEV), Ioctl(r.P, r.Fd, IommufdIoctl.VdeviceTsmOp, Struct(IommuVdeviceTsmOp.SizeOf,
            U32(IommuVdeviceTsmOp.Type, IommuVdeviceTsmOp.TypeBind), U32(IommuVdeviceTsmOp.VdeviceId, vdev))));
        var req = new byte[IommuVdeviceTsmReqOpArch.SizeOf];
        IommuVdeviceTsmReqOpArch.Write(req, vdev, TsmReqOp.SetTdiState, TvmArch.Cca, 4, 0, Mem, 0);
        Assert.Equal(Neg(Errno.ENODEV), Ioctl(r.P, r.Fd, IommufdIoctl.VdeviceTsmReq, req));
        Assert.Equal(Neg(Errno.ENODEV), Ioctl(r.P, r.Fd, IommufdIoctl.VdeviceTsmInfo, Struct(IommuVdeviceTsmInfo.SizeOf, U32(IommuVdeviceTsmInfo.VdeviceId, vdev))));
        // Destroying the stdev unbinds the device, which takes its vDevice along (the kernel's tombstone: ENOENT).
        Assert.Equal(0, r.Destroy(stdev));
        Assert.Equal(Neg(Errno.ENOENT), r.Destroy(vdev));
        Assert.Equal(0, r.Destroy(viommu));
    }

    [Fact]
    public void ViommuInvalidate_OnTheMockViommu_ChecksEachEntry_AndZeroesTheMockDevicesCaches()
    {
        var r = Selftest();
        var (idev, _, viommu) = MockViommu(r);
        Assert.Equal(0, VdeviceAlloc(r, viommu, idev, 0x99));
        const ulong Data = Mem + 0x1000;
        void Entries(params (uint Flags, uint VdevId, uint CacheId)[] e)
        {
            var b = new byte[e.Length * 12 + 4];
            for (int i = 0; i < e.Length; i++)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(i * 12), e[i].Flags);
                BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(i * 12 + 4), e[i].VdevId);
                BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(i * 12 + 8), e[i].CacheId);
            }
            b[^4] = 1; // a non-zero byte right after the entries
            Assert.Equal(0, r.P.Memory.CopyToUser(Data, b));
        }
        (long Rc, uint Done) Invalidate(uint num, uint len = 12, uint type = MockViommuInvalidate.DataSelftest, ulong uptr = Data, uint id = 0)
        {
            long rc = Ioctl(r.P, r.Fd, IommufdIoctl.HwptInvalidate, Struct(IommuHwptInvalidate.SizeOf, U32(IommuHwptInvalidate.HwptId, id == 0 ? viommu : id),
                U64(IommuHwptInvalidate.DataUptr, uptr), U32(IommuHwptInvalidate.DataType, type), U32(IommuHwptInvalidate.EntryLen, len), U32(IommuHwptInvalidate.EntryNum, num)));
            return (rc, BinaryPrimitives.ReadUInt32LittleEndian(Read(r.P, IommuHwptInvalidate.SizeOf).AsSpan(IommuHwptInvalidate.EntryNum)));
        }
        uint Cache(int i) => r.Context.Objects.OfType<IommufdDevice>().Single().Mock!.Cache(i);
        Entries((0, 0x99, 0));
        Assert.Equal((0L, 0u), Invalidate(0));
        Assert.Equal((Neg(Errno.EINVAL), 0u), Invalidate(0, type: 0xdadbeef));
        Assert.Equal((Neg(Errno.EINVAL), 0u), Invalidate(1, type: 0xdadbeef));
        Assert.Equal((Neg(Errno.EFAULT), 0u), Invalidate(1, uptr: 0x10));
        Assert.Equal((Neg(Errno.E2BIG), 0u), Invalidate(1, len: 13)); // the byte after the entry is 1
        Entries((0xffffffff, 0x99, 0));
        Assert.Equal((Neg(Errno.EOPNOTSUPP), 0u), Invalidate(1));
        Entries((0, 0x99, 4));
        Assert.Equal((Neg(Errno.EINVAL), 0u), Invalidate(1));
        Entries((0, 0x9, 0));
        Assert.Equal((Neg(Errno.EINVAL), 0u), Invalidate(1));
        Assert.All(Enumerable.Range(0, 4), i => Assert.Equal(IommuTestCmd.DevCacheDefault, Cache(i)));
        // The first entry applies, the second fails: entry_num 1 comes back.
        Entries((0, 0x99, 0), (0xffffffff, 0x99, 1));
        Assert.Equal((Neg(Errno.EOPNOTSUPP), 1u), Invalidate(2));
        Assert.Equal((0u, IommuTestCmd.DevCacheDefault), (Cache(0), Cache(1)));
        Assert.Equal(0, r.Test(IommuTestCmd.OpDevCheckCache, idev, U32(IommuTestCmd.DevCacheId, 0), U32(IommuTestCmd.DevCacheValue, 0)));
        Entries((MockViommuInvalidate.FlagAll, 0x99, 7));
        Assert.Equal((Neg(Errno.EINVAL), 0u), Invalidate(1)); // cache_id is checked even with FLAG_ALL
        Entries((MockViommuInvalidate.FlagAll, 0x99, 3));
        Assert.Equal((0L, 1u), Invalidate(1));
        Assert.All(Enumerable.Range(0, 4), i => Assert.Equal(0u, Cache(i)));
    }

    [Fact]
    public void MockDomainReplace_MovesTheDeviceToAnotherIoasOrHwpt()
    {
        var r = Selftest();
        var (stdev, hwpt, _) = r.MockDomain(r.Ioas);
        uint other = IoasRig.NewIoas(r.P, r.Fd);
        long Replace(uint id, uint pt) => r.Test(IommuTestCmd.OpMockDomainReplace, id, U32(IommuTestCmd.MockDomainReplacePtId, pt));
        Assert.Equal(Neg(Errno.ENOENT), Replace(999, other));
        Assert.Equal(Neg(Errno.ENOENT), Replace(r.Ioas, other));
        Assert.Equal(Neg(Errno.ENOENT), Replace(stdev, 999));
        Assert.Equal(Neg(Errno.EINVAL), Replace(stdev, stdev));
        // To the same IOAS: the same domain.
        Assert.Equal(0, Replace(stdev, r.Ioas));
        Assert.Equal(hwpt, r.Out(IommuTestCmd.MockDomainReplacePtId));
        // To another IOAS: a new automatic domain there; the old one goes with its last device.
        Assert.Equal(0, Replace(stdev, other));
        uint newHwpt = r.Out(IommuTestCmd.MockDomainReplacePtId);
        Assert.NotEqual(hwpt, newHwpt);
        Assert.Equal(Neg(Errno.ENOENT), r.Destroy(hwpt));
        Assert.Equal(0, r.IoasObject.Iopt.DomainCount);
        Assert.Equal(0, r.Destroy(stdev));
        Assert.Equal(Neg(Errno.ENOENT), r.Destroy(newHwpt));
    }

    [Fact]
    public void CheckMap_ChecksAlignmentAndTheDomain_ThenEveryIoPageAgainstTheCallersMemory()
    {
        var r = Selftest();
        var (_, hwpt, _) = r.MockDomain(r.Ioas);
        const ulong Iova = 1ul << 24;
        Assert.Equal(0, r.Map(Mem, 0x4000, Iova));
        Assert.Equal(0, r.CheckMap(hwpt, Iova, 0x4000, Mem));
        // Half pages (the mock IO page is PAGE_SIZE / 2) check too.
        Assert.Equal(0, r.CheckMap(hwpt, Iova + 0x800, 0x1000, Mem + 0x800));
        Assert.Equal(Neg(Errno.EINVAL), r.CheckMap(hwpt, Iova + 1, 0x800, Mem + 1));
        Assert.Equal(Neg(Errno.EINVAL), r.CheckMap(hwpt, Iova, 0x400, Mem));
        Assert.Equal(Neg(Errno.EINVAL), r.CheckMap(hwpt, Iova, 0x1000, ulong.MaxValue - 0x7FF));
        Assert.Equal(Neg(Errno.ENOENT), r.CheckMap(999, Iova, 0x1000, Mem));
        Assert.Equal(Neg(Errno.ENOENT), r.CheckMap(r.Ioas, Iova, 0x1000, Mem));
        // Another user address, an unmapped IOVA: EINVAL. An unmapped user page: EFAULT.
        Assert.Equal(Neg(Errno.EINVAL), r.CheckMap(hwpt, Iova, 0x1000, Mem + 0x1000));
        Assert.Equal(Neg(Errno.EINVAL), r.CheckMap(hwpt, Iova + 0x4000, 0x800, Mem + 0x4000));
        Assert.Equal(Neg(Errno.EFAULT), r.CheckMap(hwpt, Iova, 0x1000, 0x7000_0000));
    }

    [Fact]
    public void CheckMap_OfADomainThatIsNotTheMockIommus_IsEinval()
    {
        var k = HostKernel.Boot(BuiltInHosts.Find(BuiltInHosts.SelftestHost)!);
        var vmm = k.CreateProcess();
        var a = new DeviceAssignment(vmm, new AssignmentPlan("/dev/vfio/devices/vfio0", KvmVmType.X86SnpVm, IommuViommuAlloc.TypeArmRealmSmmuV3OrAmd, new(0, 0, 3, 0)), new GuestRam(vmm, 0x6000_0000_0000, 1 << 20));
        Assert.True(a.Prepare());
        Assert.Equal(Neg(Errno.EINVAL), Ioctl(vmm, a.IommuFd, IommuTestCmd.Number, Struct(IommuTestCmd.SizeOf, U32(IommuTestCmd.Op, IommuTestCmd.OpMdCheckMap),
            U32(IommuTestCmd.Id, a.HwptId), U64(IommuTestCmd.CheckMapLength, 0x1000), U64(IommuTestCmd.CheckMapUptr, 0x6000_0000_0000))));
        // DEV_CHECK_CACHE of a VFIO device (not a mock one): EINVAL.
        Assert.Equal(Neg(Errno.EINVAL), Ioctl(vmm, a.IommuFd, IommuTestCmd.Number, Struct(IommuTestCmd.SizeOf, U32(IommuTestCmd.Op, IommuTestCmd.OpDevCheckCache),
            U32(IommuTestCmd.Id, a.DevId), U32(IommuTestCmd.DevCacheValue, IommuTestCmd.DevCacheDefault))));
    }

    [Fact]
    public void DevCheckCache_ComparesEachOfTheFourCachesWithTheDefault()
    {
        var r = Selftest();
        var (stdev, _, idev) = r.MockDomain(r.Ioas);
        long Check(uint id, uint cache, uint value) => r.Test(IommuTestCmd.OpDevCheckCache, id, U32(IommuTestCmd.DevCacheId, cache), U32(IommuTestCmd.DevCacheValue, value));
        for (uint c = 0; c < IommuTestCmd.MockDevCacheNum; c++) Assert.Equal(0, Check(idev, c, IommuTestCmd.DevCacheDefault));
        Assert.Equal(Neg(Errno.EINVAL), Check(idev, 4, IommuTestCmd.DevCacheDefault));
        Assert.Equal(Neg(Errno.EINVAL), Check(idev, 0, 0));
        Assert.Equal(Neg(Errno.ENOENT), Check(stdev, 0, IommuTestCmd.DevCacheDefault));
        Assert.Equal(Neg(Errno.ENOENT), Check(999, 0, IommuTestCmd.DevCacheDefault));
    }

    private static uint HwptAlloc(Rig r, uint idev, uint pt, uint flags, out long rc)
    {
        rc = Ioctl(r.P, r.Fd, IommufdIoctl.HwptAlloc, Struct(IommuHwptAlloc.SizeOf, U32(IommuHwptAlloc.Flags, flags), U32(IommuHwptAlloc.DevId, idev), U32(IommuHwptAlloc.PtId, pt)));
        return rc == 0 ? BinaryPrimitives.ReadUInt32LittleEndian(Read(r.P, IommuHwptAlloc.SizeOf).AsSpan(IommuHwptAlloc.OutHwptId)) : 0;
    }

    private static long SetDirty(Rig r, uint hwpt, bool enable) =>
        Ioctl(r.P, r.Fd, IommufdIoctl.HwptSetDirtyTracking, Struct(IommuHwptSetDirtyTracking.SizeOf, U32(IommuHwptSetDirtyTracking.Flags, enable ? IommuHwptSetDirtyTracking.FlagEnable : 0), U32(IommuHwptSetDirtyTracking.HwptId, hwpt)));

    [Fact]
    public void DirtyTrackingHwpt_OnlyForADirtyCapableMockDevice_AndANoDirtyDeviceCannotJoinIt()
    {
        var r = Selftest();
        var (_, _, idev) = r.MockDomain(r.Ioas);
        uint hwpt = HwptAlloc(r, idev, r.Ioas, IommuHwptAlloc.FlagDirtyTracking, out long rc);
        Assert.Equal(0, rc);
        Assert.Equal(Neg(Errno.EINVAL), r.Test(IommuTestCmd.OpMockDomainFlags, hwpt, U32(IommuTestCmd.MockDomainDevFlags, IommuTestCmd.MockFlagNoDirty)));
        r.MockDomain(hwpt);
        var noDirty = r.MockDomain(IoasRig.NewIoas(r.P, r.Fd), IommuTestCmd.MockFlagNoDirty);
        HwptAlloc(r, noDirty.Idev, r.Ioas, IommuHwptAlloc.FlagDirtyTracking, out rc);
        Assert.Equal(Neg(Errno.EOPNOTSUPP), rc);
        Assert.Equal(0, SetDirty(r, hwpt, true));
        Assert.Equal(0, SetDirty(r, hwpt, false));
        // A domain without dirty ops still answers EOPNOTSUPP.
        uint plain = HwptAlloc(r, idev, r.Ioas, 0, out rc);
        Assert.Equal(0, rc);
        Assert.Equal(Neg(Errno.EOPNOTSUPP), SetDirty(r, plain, true));
    }

    [Fact]
    public void DirtyOp_MarksMappedIoPages_AndGetDirtyBitmapReportsAndClearsThem()
    {
        var r = Selftest();
        var (_, _, idev) = r.MockDomain(r.Ioas);
        const ulong Iova = IommuTestCmd.MockApertureStart, Io = IommuTestCmd.MockIoPageSize, Bits = Mem + 0x8000;
        Assert.Equal(0, r.Map(Mem, 0x4000, Iova));
        uint hwpt = HwptAlloc(r, idev, r.Ioas, IommuHwptAlloc.FlagDirtyTracking, out long rc);
        Assert.Equal(0, rc);
        long Dirty(ulong iova, ulong length, ulong pageSize, ulong uptr) =>
            r.Test(IommuTestCmd.OpDirty, hwpt, U64(IommuTestCmd.DirtyIova, iova), U64(IommuTestCmd.DirtyLength, length), U64(IommuTestCmd.DirtyPageSize, pageSize), U64(IommuTestCmd.DirtyUptr, uptr));
        long Get(ulong length, uint flags) => Ioctl(r.P, r.Fd, IommufdIoctl.HwptGetDirtyBitmap, Struct(IommuHwptGetDirtyBitmap.SizeOf, U32(IommuHwptGetDirtyBitmap.HwptId, hwpt),
            U32(IommuHwptGetDirtyBitmap.Flags, flags), U64(IommuHwptGetDirtyBitmap.Iova, Iova), U64(IommuHwptGetDirtyBitmap.Length, length), U64(IommuHwptGetDirtyBitmap.PageSize, Io), U64(IommuHwptGetDirtyBitmap.Data, Bits)));
        // Checks: zero or misaligned sizes and a null bitmap EINVAL; tracking off EINVAL; no HWPT ENOENT; unreadable bitmap EFAULT.
        Assert.Equal(Neg(Errno.EINVAL), Dirty(Iova, 0x4000, 0, Bits));
        Assert.Equal(Neg(Errno.EINVAL), Dirty(Iova + 1, 0x4000, Io, Bits));
        Assert.Equal(Neg(Errno.EINVAL), Dirty(Iova, 0x4000, Io, 0));
        Assert.Equal(Neg(Errno.EINVAL), Dirty(Iova, 0x4000, Io, Bits));
        Assert.Equal(Neg(Errno.ENOENT), r.Test(IommuTestCmd.OpDirty, 999, U64(IommuTestCmd.DirtyIova, Iova), U64(IommuTestCmd.DirtyLength, 0x4000), U64(IommuTestCmd.DirtyPageSize, Io), U64(IommuTestCmd.DirtyUptr, Bits)));
        Assert.Equal(0, SetDirty(r, hwpt, true));
        Assert.Equal(Neg(Errno.EFAULT), Dirty(Iova, 0x4000, Io, 0x7000_0000));
        // IO pages 0, 2 and 9 (the last is past the mapping: not counted).
        Assert.Equal(0, r.P.Memory.CopyToUser(Bits, [0b0000_0101, 0b0000_0010]));
        Assert.Equal(0, Dirty(Iova, 0x8000, Io, Bits));
        Assert.Equal(2ul, BinaryPrimitives.ReadUInt64LittleEndian(Read(r.P, IommuTestCmd.SizeOf).AsSpan(IommuTestCmd.DirtyOutNrDirty)));
        Assert.Equal(0, r.P.Memory.CopyToUser(Bits, [0, 0]));
        Assert.Equal(0, Get(0x4000, IommuHwptGetDirtyBitmap.FlagNoClear));
        Assert.Equal(0b0000_0101, Read(r.P, 1, Bits)[0]);
        Assert.Equal(0, r.P.Memory.CopyToUser(Bits, [0]));
        Assert.Equal(0, Get(0x4000, 0));
        Assert.Equal(0b0000_0101, Read(r.P, 1, Bits)[0]);
        Assert.Equal(0, r.P.Memory.CopyToUser(Bits, [0]));
        Assert.Equal(0, Get(0x4000, 0));
        Assert.Equal(0, Read(r.P, 1, Bits)[0]);
    }
}
