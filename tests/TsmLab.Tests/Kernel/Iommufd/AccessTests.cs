using System.Buffers.Binary;
using TsmLab.Abi;
using TsmLab.Hosts;
using TsmLab.Kernel;
using TsmLab.Kernel.Iommufd;
using TsmLab.Kernel.Iommufd.Selftest;
using static TsmLab.Tests.Kernel.Raw;

namespace TsmLab.Tests.Kernel.Iommufd;

/// <summary>The mock driver's access object: IOMMU_TEST_CMD CREATE_ACCESS and the ACCESS_* ops on its fd (docs/errno.md).</summary>
public class AccessTests
{
    private const ulong Mem = 0x2000_0000;
    private const ulong Iova = 0x40_0000;
    private const ulong Page = 4096;

    private sealed record Rig(HostKernel Kernel, Process P, int Fd, uint Ioas)
    {
        public IommufdContext Context => Kernel.IommufdContexts.Single();
        public Ioas IoasObject(uint id) => Context.Objects.OfType<Ioas>().Single(i => i.Id == id);

        public long Test(uint op, uint id, params (int, ulong, int)[] fields) =>
            Ioctl(P, Fd, IommuTestCmd.Number, Struct(IommuTestCmd.SizeOf, [U32(IommuTestCmd.Op, op), U32(IommuTestCmd.Id, id), .. fields]));

        public uint Out(int offset) => BinaryPrimitives.ReadUInt32LittleEndian(Read(P, IommuTestCmd.SizeOf).AsSpan(offset));

        public int CreateAccess(uint ioas, uint flags = IommuTestCmd.AccessCreateNeedsPinPages)
        {
            Assert.Equal(0, Test(IommuTestCmd.OpCreateAccess, ioas, U32(IommuTestCmd.CreateAccessFlags, flags)));
            return (int)Out(IommuTestCmd.CreateAccessOutFd);
        }

        public long Pages(int access, ulong iova, ulong length, ulong uptr, uint flags = 0) =>
            Test(IommuTestCmd.OpAccessPages, (uint)access, U32(IommuTestCmd.AccessPagesFlags, flags), U64(IommuTestCmd.AccessPagesIova, iova),
                U64(IommuTestCmd.AccessPagesLength, length), U64(IommuTestCmd.AccessPagesUptr, uptr));

        public long Rw(int access, ulong iova, ulong length, ulong uptr, uint flags) =>
            Test(IommuTestCmd.OpAccessRw, (uint)access, U64(IommuTestCmd.AccessRwIova, iova), U64(IommuTestCmd.AccessRwLength, length),
                U64(IommuTestCmd.AccessRwUptr, uptr), U32(IommuTestCmd.AccessRwFlags, flags));

        public long Destroy(uint id) => Ioctl(P, Fd, IommufdIoctl.Destroy, Struct(IommuDestroy.SizeOf, U32(IommuDestroy.Id, id)));

        public long Map(ulong uva, ulong length, ulong iova, uint flags = IoasRig.FixedRw, uint? ioas = null) =>
            Ioctl(P, Fd, IommufdIoctl.IoasMap, IoasRig.MapCmd(ioas ?? Ioas, flags, uva, length, iova));

        public long Unmap(ulong iova, ulong length, uint? ioas = null) =>
            Ioctl(P, Fd, IommufdIoctl.IoasUnmap, Struct(IommuIoasUnmap.SizeOf, U32(IommuIoasUnmap.IoasId, ioas ?? Ioas),
                U64(IommuIoasUnmap.Iova, iova), U64(IommuIoasUnmap.Length, length)));

        public AccessFile File(int fd) => (AccessFile)P.OpenFiles().Single(f => f.Fd == fd).File;
        public bool Pinned(ulong iova, uint? ioas = null) => IoasObject(ioas ?? Ioas).Iopt.Find(iova) is { } a && a.Pages.IsPinned(a.StartByteAt(iova) / Page);
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
    public void CreateAccess_UnknownFlagOrNoIoas_Fails_ElseInstallsAnAccessFd_WhoseCloseReleasesTheAccess()
    {
        var r = Selftest();
        Assert.Equal(Neg(Errno.EOPNOTSUPP), r.Test(IommuTestCmd.OpCreateAccess, r.Ioas, U32(IommuTestCmd.CreateAccessFlags, 2)));
        Assert.Equal(Neg(Errno.ENOENT), r.Test(IommuTestCmd.OpCreateAccess, 999, U32(IommuTestCmd.CreateAccessFlags, 1)));
        Assert.DoesNotContain(r.Context.Objects, o => o.Type == IommufdObjectType.Access);
        Assert.DoesNotContain(r.P.OpenFiles(), f => f.File is AccessFile);

        int fd = r.CreateAccess(r.Ioas);
        var file = r.File(fd);
        Assert.Equal("anon_inode:[iommufd_test_staccess]", file.Name);
        var access = r.Context.Objects.Single(o => o.Type == IommufdObjectType.Access);
        // The driver holds the access and the access holds the IOAS.
        Assert.Equal(Neg(Errno.EBUSY), r.Destroy(access.Id));
        Assert.Equal(Neg(Errno.EBUSY), r.Destroy(r.Ioas));
        // A pinning access raises the IOAS's alignment to PAGE_SIZE.
        Assert.Equal(Page, r.IoasObject(r.Ioas).Iopt.IovaAlignment);

        Assert.Equal(0, r.P.Close(fd));
        Assert.True(file.Released);
        Assert.DoesNotContain(r.Context.Objects, o => o.Type == IommufdObjectType.Access);
        Assert.Equal(1ul, r.IoasObject(r.Ioas).Iopt.IovaAlignment);
        Assert.Equal(0, r.Destroy(r.Ioas));
    }

    [Fact]
    public void AccessOps_OnAnFdThatIsNotAnAccessFile_AreEbadfd()
    {
        var r = Selftest();
        foreach (uint id in new[] { (uint)r.Fd, 999u })
        {
            Assert.Equal(Neg(Errno.EBADFD), r.Test(IommuTestCmd.OpDestroyAccessPages, id));
            Assert.Equal(Neg(Errno.EBADFD), r.Test(IommuTestCmd.OpAccessReplaceIoas, id, U32(IommuTestCmd.AccessReplaceIoasId, r.Ioas)));
            Assert.Equal(Neg(Errno.EBADFD), r.Pages((int)id, Iova, Page, 0));
            Assert.Equal(Neg(Errno.EBADFD), r.Rw((int)id, Iova, 8, Mem, 0));
        }
    }

    [Fact]
    public void AccessPages_ChecksLengthFlagsAlignmentAndMemory_ThenPinsUntilDestroyed()
    {
        var r = Selftest();
        Assert.Equal(0, r.Map(Mem, 4 * Page, Iova));
        Assert.Equal(0, r.Map(Mem + 4 * Page, Page, Iova + 8 * Page, IommuIoasMapFlags.Readable | IommuIoasMapFlags.FixedIova));
        int plain = r.CreateAccess(r.Ioas, 0);
        int fd = r.CreateAccess(r.Ioas);
        Assert.Equal(Neg(Errno.ENOMEM), r.Pages(fd, Iova, IommuTestCmd.AccessMaxLength + 1, 0));
        Assert.Equal(Neg(Errno.EOPNOTSUPP), r.Pages(fd, Iova, Page, 0, flags: 2));
        Assert.Equal(Neg(Errno.EOPNOTSUPP), r.Pages(plain, Iova, Page, 0));
        Assert.Equal(Neg(Errno.EINVAL), r.Pages(fd, Iova, 0, 0));
        Assert.Equal(Neg(Errno.EOVERFLOW), r.Pages(fd, ulong.MaxValue - 10, Page, 0));
        Assert.Equal(Neg(Errno.ENOENT), r.Pages(fd, Iova + 16 * Page, Page, 0));
        Assert.Equal(Neg(Errno.ENOENT), r.Pages(fd, Iova, 5 * Page, 0)); // runs into a hole
        Assert.Equal(Neg(Errno.EINVAL), r.Pages(fd, Iova + 8, Page, 0)); // not on a page boundary of the pages
        Assert.Equal(Neg(Errno.EPERM), r.Pages(fd, Iova + 8 * Page, Page, 0, IommuTestCmd.AccessFlagWrite));
        Assert.Equal(Neg(Errno.EBADE), r.Pages(fd, Iova, Page, Mem + Page)); // uptr is other memory
        Assert.Equal(Neg(Errno.EFAULT), r.Pages(fd, Iova, Page, 0x7000_0000)); // uptr not mapped
        Assert.False(r.Pinned(Iova));

        Assert.Equal(0, r.Pages(fd, Iova, 2 * Page, Mem, IommuTestCmd.AccessFlagWrite));
        Assert.Equal(0u, r.Out(IommuTestCmd.AccessPagesOutId));
        Assert.True(r.Pinned(Iova + Page));
        Assert.False(r.Pinned(Iova + 2 * Page));
        Assert.Equal(0, r.Pages(fd, Iova + 8 * Page, Page, Mem + 4 * Page));
        Assert.Equal(1u, r.Out(IommuTestCmd.AccessPagesOutId));
        Assert.Equal(2, r.File(fd).ItemCount);

        Assert.Equal(Neg(Errno.ENOENT), r.Test(IommuTestCmd.OpDestroyAccessPages, (uint)fd, U32(IommuTestCmd.DestroyAccessPagesId, 7)));
        Assert.Equal(0, r.Test(IommuTestCmd.OpDestroyAccessPages, (uint)fd, U32(IommuTestCmd.DestroyAccessPagesId, 0)));
        Assert.False(r.Pinned(Iova));
        Assert.True(r.Pinned(Iova + 8 * Page));
        // Closing the fd drops the rest.
        Assert.Equal(0, r.P.Close(fd));
        Assert.False(r.Pinned(Iova + 8 * Page));
    }

    [Fact]
    public void Unmap_OverPinnedAccessPages_CallsTheAccessesUnmap_WhichUnpinsThem()
    {
        var r = Selftest();
        Assert.Equal(0, r.Map(Mem, 4 * Page, Iova));
        int fd = r.CreateAccess(r.Ioas);
        Assert.Equal(0, r.Pages(fd, Iova + Page, Page, Mem + Page));
        Assert.Equal(0, r.Unmap(Iova, 4 * Page));
        Assert.Equal(0, r.File(fd).ItemCount);
        Assert.Empty(r.IoasObject(r.Ioas).Iopt.Areas);
        // The unmapped pages are not pinned by anyone any more.
        Assert.Equal(0, r.Test(IommuTestCmd.OpMdCheckRefs, 0, U64(IommuTestCmd.CheckRefsUptr, Mem), U64(IommuTestCmd.CheckRefsLength, 4 * Page), U32(IommuTestCmd.CheckRefsRefs, 0)));
    }

    [Fact]
    public void AccessRw_ChecksLengthFlagsAndAreas_ThenReadsAndWritesThroughTheIoas()
    {
        var r = Selftest();
        Assert.Equal(0, r.Map(Mem, 2 * Page, Iova));
        Assert.Equal(0, r.Map(Mem + 2 * Page, Page, Iova + 2 * Page, IommuIoasMapFlags.Readable | IommuIoasMapFlags.FixedIova));
        int fd = r.CreateAccess(r.Ioas, 0);
        ulong buf = Mem + 8 * Page;
        Assert.Equal(0, r.P.Memory.CopyToUser(buf, "through the IOAS"u8));
        Assert.Equal(Neg(Errno.ENOMEM), r.Rw(fd, Iova, IommuTestCmd.AccessMaxLength + 1, buf, 0));
        Assert.Equal(Neg(Errno.EOPNOTSUPP), r.Rw(fd, Iova, 16, buf, 2));
        Assert.Equal(Neg(Errno.EINVAL), r.Rw(fd, Iova, 0, buf, 0));
        Assert.Equal(Neg(Errno.EOVERFLOW), r.Rw(fd, ulong.MaxValue - 4, 16, buf, 0));
        Assert.Equal(Neg(Errno.ENOENT), r.Rw(fd, Iova + 3 * Page - 4, 16, buf, 0));
        Assert.Equal(Neg(Errno.EPERM), r.Rw(fd, Iova + 2 * Page, 16, buf, IommuTestCmd.AccessRwWrite));
        Assert.Equal(Neg(Errno.EFAULT), r.Rw(fd, Iova, 16, 0x7000_0000, IommuTestCmd.AccessRwWrite));

        // An unaligned write across the two areas' boundary, then a read of it (either copy path).
        ulong at = Iova + 2 * Page - 5;
        Assert.Equal(0, r.Rw(fd, Iova + Page - 3, 16, buf, IommuTestCmd.AccessRwWrite | IommuTestCmd.AccessRwSlowPath));
        Assert.Equal("through the IOAS"u8.ToArray(), Read(r.P, 16, Mem + Page - 3));
        Assert.Equal(0, r.Rw(fd, Iova + Page - 3, 16, buf + 64, 0));
        Assert.Equal("through the IOAS"u8.ToArray(), Read(r.P, 16, buf + 64));
        Assert.Equal(0, r.Rw(fd, at, 10, buf + 128, 0)); // a read may cross into the read-only area
    }

    [Fact]
    public void ReplaceIoas_MovesTheAccess_DroppingItsPinsOnTheOldIoas()
    {
        var r = Selftest();
        uint other = IoasRig.NewIoas(r.P, r.Fd);
        Assert.Equal(0, r.Map(Mem, Page, Iova));
        Assert.Equal(0, r.Map(Mem, Page, Iova, ioas: other));
        int fd = r.CreateAccess(r.Ioas);
        Assert.Equal(0, r.Pages(fd, Iova, Page, Mem));
        Assert.Equal(Neg(Errno.ENOENT), r.Test(IommuTestCmd.OpAccessReplaceIoas, (uint)fd, U32(IommuTestCmd.AccessReplaceIoasId, 999)));
        Assert.True(r.Pinned(Iova));
        Assert.Equal(0, r.Test(IommuTestCmd.OpAccessReplaceIoas, (uint)fd, U32(IommuTestCmd.AccessReplaceIoasId, other)));
        Assert.False(r.Pinned(Iova));
        Assert.Equal(0, r.File(fd).ItemCount);
        Assert.Equal(0, r.Destroy(r.Ioas)); // the old IOAS is free
        Assert.Equal(Neg(Errno.EBUSY), r.Destroy(other));
        Assert.Equal(0, r.Pages(fd, Iova, Page, Mem));
        Assert.True(r.Pinned(Iova, other));
    }
}

/// <summary>An io_pagetable's side of accesses: an access that never lets go, and splits over access pins.</summary>
public class AccessUnmapTests
{
    private const ulong Mem = 0x2000_0000;
    private const ulong Iova = 0x40_0000;
    private const ulong Page = 4096;

    /// <summary>A driver whose unmap callback keeps its pins (counts the calls).</summary>
    private sealed class StubbornOps : IAccessOps
    {
        public int Calls;
        public bool NeedsPinPages => true;
        public void Unmap(ulong iova, ulong length) => Calls++;
    }

    [Fact]
    public void Unmap_WhenAnAccessKeepsItsPins_GivesUpAfter100Tries_WithEdeadlk_AndTheAreaRefusesNewAccess()
    {
        var k = HostKernel.Boot(BuiltInHosts.Find(BuiltInHosts.SelftestHost)!);
        var p = k.CreateProcess();
        int fd = p.Open("/dev/iommu");
        Assert.Equal(0, p.Memory.Map(Mem, 1 << 20, Prot.ReadWrite));
        uint ioasId = IoasRig.NewIoas(p, fd);
        Assert.Equal(0, Ioctl(p, fd, IommufdIoctl.IoasMap, IoasRig.MapCmd(ioasId, IoasRig.FixedRw, Mem, 4 * Page, Iova)));
        var ctx = k.IommufdContexts.Single();
        var iopt = ctx.Objects.OfType<Ioas>().Single().Iopt;
        var ops = new StubbornOps();
        var access = IommufdAccess.Create(ctx, ops);
        Assert.Equal(0, access.Attach(ioasId));
        var pins = new List<AccessPin>();
        Assert.Equal(0, access.PinPages(Iova, Page, write: false, pins));
        // Splitting an area an access pins is EINVAL (iopt_area_split).
        Assert.Equal(Neg(Errno.EINVAL), iopt.Cut([Iova + 2 * Page - 1]));

        long rc = Ioctl(p, fd, IommufdIoctl.IoasUnmap, Struct(IommuIoasUnmap.SizeOf, U32(IommuIoasUnmap.IoasId, ioasId),
            U64(IommuIoasUnmap.Iova, Iova), U64(IommuIoasUnmap.Length, 4 * Page)));
        Assert.Equal(Neg(Errno.EDEADLK), rc);
        Assert.Equal(101, ops.Calls);
        // The area stays, marked: new pins and reads are EINVAL, a split EBUSY.
        Assert.Single(iopt.Areas);
        Assert.Equal(Neg(Errno.EINVAL), access.PinPages(Iova + Page, Page, write: false, new List<AccessPin>()));
        Assert.Equal(Neg(Errno.EINVAL), access.Rw(Iova, new byte[8], write: false));
        Assert.Equal(Neg(Errno.EBUSY), iopt.Cut([Iova + 2 * Page - 1]));
        // Once the pins go, the unmap succeeds.
        access.UnpinPages(pins);
        Assert.Equal(0, Ioctl(p, fd, IommufdIoctl.IoasUnmap, Struct(IommuIoasUnmap.SizeOf, U32(IommuIoasUnmap.IoasId, ioasId),
            U64(IommuIoasUnmap.Iova, Iova), U64(IommuIoasUnmap.Length, 4 * Page))));
        access.Destroy();
        Assert.Equal(0, Ioctl(p, fd, IommufdIoctl.Destroy, Struct(IommuDestroy.SizeOf, U32(IommuDestroy.Id, ioasId))));
    }
}
