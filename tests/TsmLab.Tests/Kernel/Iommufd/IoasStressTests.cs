using System.Buffers.Binary;
using TsmLab.Abi;
using TsmLab.Kernel;
using static TsmLab.Tests.Kernel.Raw;

namespace TsmLab.Tests.Kernel.Iommufd;

/// <summary>
/// Concurrent IOAS use (docs/reliability.md): map/unmap threads on one IOAS while another thread
/// allocates and destroys paging HWPTs on it, so pins are taken and dropped under the maps. Every
/// call must give its full effect or a documented errno; afterwards nothing stays pinned or charged.
/// </summary>
public class IoasStressTests
{
    private static readonly TimeSpan RunFor = TimeSpan.FromMilliseconds(600);

    [Fact]
    public void MapUnmapAndDomainChurn_OnOneIoas_LeaveNoPinsOrChargesBehind()
    {
        var r = IoasRig.WithDomain();
        var t = r.Assigned!;
        r.P.Limits.MemlockLimit = ProcessLimits.Infinity;
        var allowed = new HashSet<long> { 0, Neg(Errno.EEXIST), Neg(Errno.ENOENT) };
        var errors = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var stop = DateTime.UtcNow + RunFor;

        void Mapper(int index)
        {
            ulong scratch = 0x6000_0000ul + (ulong)index * 0x10000;
            Assert.Equal(0, r.P.Memory.Map(scratch, 0x10000, Prot.ReadWrite));
            Span<byte> s = stackalloc byte[IommuIoasMap.SizeOf];
            ulong iova = 0x1000_0000ul * (ulong)(index + 1);
            while (DateTime.UtcNow < stop)
            {
                s.Clear();
                BinaryPrimitives.WriteUInt32LittleEndian(s, IommuIoasMap.SizeOf);
                BinaryPrimitives.WriteUInt32LittleEndian(s[IommuIoasMap.Flags..], IoasRig.FixedRw);
                BinaryPrimitives.WriteUInt32LittleEndian(s[IommuIoasMap.IoasId..], r.Ioas);
                BinaryPrimitives.WriteUInt64LittleEndian(s[IommuIoasMap.UserVa..], IoasRig.Mem);
                BinaryPrimitives.WriteUInt64LittleEndian(s[IommuIoasMap.Length..], 0x10_0000);
                BinaryPrimitives.WriteUInt64LittleEndian(s[IommuIoasMap.Iova..], iova);
                r.P.Memory.CopyToUser(scratch, s);
                long rc = r.P.Ioctl(r.Fd, IommufdIoctl.IoasMap, scratch);
                if (!allowed.Contains(rc)) errors.Enqueue($"map {ErrnoNames.NameOf(rc)}");
                s[..IommuIoasUnmap.SizeOf].Clear();
                BinaryPrimitives.WriteUInt32LittleEndian(s, IommuIoasUnmap.SizeOf);
                BinaryPrimitives.WriteUInt32LittleEndian(s[IommuIoasUnmap.IoasId..], r.Ioas);
                BinaryPrimitives.WriteUInt64LittleEndian(s[IommuIoasUnmap.Iova..], iova);
                BinaryPrimitives.WriteUInt64LittleEndian(s[IommuIoasUnmap.Length..], 0x10_0000);
                r.P.Memory.CopyToUser(scratch, s[..IommuIoasUnmap.SizeOf]);
                rc = r.P.Ioctl(r.Fd, IommufdIoctl.IoasUnmap, scratch);
                if (!allowed.Contains(rc)) errors.Enqueue($"unmap {ErrnoNames.NameOf(rc)}");
            }
        }

        void DomainChurn()
        {
            const ulong scratch = 0x6800_0000;
            Assert.Equal(0, r.P.Memory.Map(scratch, 0x1000, Prot.ReadWrite));
            Span<byte> s = stackalloc byte[IommuHwptAlloc.SizeOf];
            while (DateTime.UtcNow < stop)
            {
                s.Clear();
                BinaryPrimitives.WriteUInt32LittleEndian(s, IommuHwptAlloc.SizeOf);
                BinaryPrimitives.WriteUInt32LittleEndian(s[IommuHwptAlloc.DevId..], t.Assignment.DevId);
                BinaryPrimitives.WriteUInt32LittleEndian(s[IommuHwptAlloc.PtId..], r.Ioas);
                r.P.Memory.CopyToUser(scratch, s);
                long rc = r.P.Ioctl(r.Fd, IommufdIoctl.HwptAlloc, scratch);
                if (rc != 0) { errors.Enqueue($"hwpt {ErrnoNames.NameOf(rc)}"); continue; }
                Assert.Equal(0, r.P.Memory.GetUser32(scratch + IommuHwptAlloc.OutHwptId, out uint hwpt));
                s[..IommuDestroy.SizeOf].Clear();
                BinaryPrimitives.WriteUInt32LittleEndian(s, IommuDestroy.SizeOf);
                BinaryPrimitives.WriteUInt32LittleEndian(s[IommuDestroy.Id..], hwpt);
                r.P.Memory.CopyToUser(scratch, s[..IommuDestroy.SizeOf]);
                rc = r.P.Ioctl(r.Fd, IommufdIoctl.Destroy, scratch);
                if (rc != 0) errors.Enqueue($"destroy {ErrnoNames.NameOf(rc)}");
            }
        }

        var threads = new[] { new Thread(() => Mapper(0)), new Thread(() => Mapper(1)), new Thread(DomainChurn) };
        foreach (var th in threads) th.Start();
        foreach (var th in threads) Assert.True(th.Join(TimeSpan.FromSeconds(20)), "a thread hung");
        Assert.Empty(errors);

        Assert.Equal(0, r.Unmap(0, ulong.MaxValue, out _));
        Assert.Equal(0, r.Kernel.UserLockedMemory.LockedPages);
        Assert.Equal(0, r.P.Limits.PinnedPages);
    }
}
