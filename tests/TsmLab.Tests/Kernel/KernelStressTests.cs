using TsmLab.Abi;
using TsmLab.Kernel;
using TsmLab.Kernel.Iommufd;
using TsmLab.Tracing;
using System.Buffers.Binary;


namespace TsmLab.Tests.Kernel;

/// <summary>
/// Several threads of one VMM process mix TSM requests, bind/unbind, vDevice destroy and
/// re-create, fd open/close, the admin's disconnect/connect and process exit, for a bounded time.
/// Every call must answer its full effect or a documented errno; afterwards nothing may be leaked
/// (contexts, files, VMs, TDIs, VFIO bindings) and the TSM core's bind/unbind/request decisions must
/// form a valid history.
/// </summary>
public class KernelStressTests
{
    private static readonly TimeSpan RunFor = TimeSpan.FromMilliseconds(1200);
    private static readonly TimeSpan HangLimit = TimeSpan.FromSeconds(20);
    private const string Connect = "/sys/bus/pci/devices/0000:01:00.0/tsm/connect";
    private const string Disconnect = "/sys/bus/pci/devices/0000:01:00.0/tsm/disconnect";

    /// <summary>One worker's private page of the process's memory, for its ioctl structs.</summary>
    private sealed class Scratch
    {
        private readonly Process p;
        private readonly ulong at;

        public Scratch(Process p, int index)
        {
            this.p = p;
            at = 0x4000_0000UL + (ulong)index * 0x10000;
            Assert.Equal(0, p.Memory.Map(at, 0x10000, Prot.ReadWrite));
        }

        public long Ioctl(int fd, uint cmd, ReadOnlySpan<byte> s, int payloadAt = -1, ReadOnlySpan<byte> payload = default)
        {
            if (payloadAt >= 0) Assert.Equal(0, p.Memory.CopyToUser(at + (ulong)payloadAt, payload));
            Assert.Equal(0, p.Memory.CopyToUser(at, s));
            return p.Ioctl(fd, cmd, at);
        }

        public uint ReadU32(int offset)
        {
            Assert.Equal(0, p.Memory.GetUser32(at + (ulong)offset, out uint v));
            return v;
        }

        public ulong Address(int offset) => at + (ulong)offset;
    }

    private static byte[] Op(uint vdev, uint type)
    {
        var s = new byte[IommuVdeviceTsmOp.SizeOf];
        BinaryPrimitives.WriteUInt32LittleEndian(s, IommuVdeviceTsmOp.SizeOf);
        BinaryPrimitives.WriteUInt32LittleEndian(s.AsSpan(IommuVdeviceTsmOp.Type), type);
        BinaryPrimitives.WriteUInt32LittleEndian(s.AsSpan(IommuVdeviceTsmOp.VdeviceId), vdev);
        return s;
    }

    private static void Allowed(long rc, string what, params Errno[] errnos)
    {
        if (rc >= 0) return;
        foreach (var e in errnos)
            if (rc == -(int)e) return;
        throw new Xunit.Sdk.XunitException($"{what}: undocumented result {rc} {ErrnoNames.NameOf(rc)}");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void MixedRequestsBindDestroyCloseDisconnect_NoLeaks_ValidHistory(bool exitMidway)
    {
        var rig = TestHosts.Assigned(TvmArch.Cca, bind: false);
        var kernel = rig.Kernel;
        var p = rig.Vmm;
        var a = rig.Assignment;
        var log = new TraceLog();
        kernel.Trace = log;
        uint vdev = a.VdeviceId;
        int iommufd = a.IommuFd;
        var exited = new ManualResetEventSlim();
        int index = 0;
        Scratch NewScratch() => new(p, Interlocked.Increment(ref index));
        // After exit every descriptor is gone: EBADF is then the documented answer to anything.
        Errno[] WithExit(params Errno[] e) => exitMidway ? [.. e, Errno.EBADF] : e;

        void Requests(Worker w)
        {
            var s = NewScratch();
            var resp = new byte[IommuVdeviceTsmReqOpArch.SizeOf];
            while (!w.Stopping)
            {
                uint id = Volatile.Read(ref vdev);
                switch (w.Random.Next(3))
                {
                    case 0:
                    {
                        w.Step("TSM_REQ SET_TDI_STATE");
                        IommuVdeviceTsmReqOpArch.Write(resp, id, TsmReqOp.SetTdiState, TvmArch.Cca, 4, 0, s.Address(0x1000), 0);
                        long rc = s.Ioctl(iommufd, IommufdIoctl.VdeviceTsmReq, resp, 0x1000, BitConverter.GetBytes((uint)w.Random.Next(3)));
                        Allowed(rc, "SET_TDI_STATE", WithExit(Errno.ENXIO, Errno.ENOENT));
                        break;
                    }
                    case 1:
                    {
                        w.Step("TSM_REQ OBJECT_INFO");
                        IommuVdeviceTsmReqOpArch.Write(resp, id, TsmReqOp.ObjectInfo, TvmArch.Cca, 4, 4, s.Address(0x1000), s.Address(0x2000));
                        long rc = s.Ioctl(iommufd, IommufdIoctl.VdeviceTsmReq, resp, 0x1000, new byte[4]);
                        Allowed(rc, "OBJECT_INFO", WithExit(Errno.ENXIO, Errno.ENOENT));
                        if (rc >= 0) Assert.Equal((uint)TestTsmPlatform.Object.Length, s.ReadU32(0x2000));
                        break;
                    }
                    default:
                    {
                        w.Step("TSM_INFO");
                        var info = new byte[IommuVdeviceTsmInfo.SizeOf];
                        BinaryPrimitives.WriteUInt32LittleEndian(info, (uint)info.Length);
                        BinaryPrimitives.WriteUInt32LittleEndian(info.AsSpan(IommuVdeviceTsmInfo.VdeviceId), id);
                        Allowed(s.Ioctl(iommufd, IommufdIoctl.VdeviceTsmInfo, info), "TSM_INFO", WithExit(Errno.ENOENT));
                        break;
                    }
                }
            }
        }

        void BindUnbind(Worker w)
        {
            var s = NewScratch();
            while (!w.Stopping)
            {
                bool bind = w.Random.Next(4) != 0;
                w.Step(bind ? "TSM_OP BIND" : "TSM_OP UNBIND");
                long rc = s.Ioctl(iommufd, IommufdIoctl.VdeviceTsmOp, Op(Volatile.Read(ref vdev), bind ? IommuVdeviceTsmOp.TypeBind : IommuVdeviceTsmOp.TypeUnbind));
                Allowed(rc, "TSM_OP", WithExit(Errno.ENOENT, Errno.EINVAL));
            }
        }

        void DestroyRecreate(Worker w)
        {
            var s = NewScratch();
            while (!w.Stopping)
            {
                w.Step("IOMMU_DESTROY vdevice");
                var d = new byte[IommuDestroy.SizeOf];
                BinaryPrimitives.WriteUInt32LittleEndian(d, IommuDestroy.SizeOf);
                BinaryPrimitives.WriteUInt32LittleEndian(d.AsSpan(IommuDestroy.Id), Volatile.Read(ref vdev));
                long rc = s.Ioctl(iommufd, IommufdIoctl.Destroy, d);
                Allowed(rc, "DESTROY", WithExit(Errno.ENOENT, Errno.EBUSY));
                w.Step("IOMMU_VDEVICE_ALLOC");
                var v = new byte[IommuVdeviceAlloc.SizeOf];
                BinaryPrimitives.WriteUInt32LittleEndian(v, IommuVdeviceAlloc.SizeOf);
                BinaryPrimitives.WriteUInt32LittleEndian(v.AsSpan(IommuVdeviceAlloc.ViommuId), a.ViommuId);
                BinaryPrimitives.WriteUInt32LittleEndian(v.AsSpan(IommuVdeviceAlloc.DevId), a.DevId);
                BinaryPrimitives.WriteUInt64LittleEndian(v.AsSpan(IommuVdeviceAlloc.VirtId), a.Plan.VirtId);
                rc = s.Ioctl(iommufd, IommufdIoctl.VdeviceAlloc, v);
                Allowed(rc, "VDEVICE_ALLOC", WithExit(Errno.EEXIST, Errno.ENOENT));
                if (rc == 0) Volatile.Write(ref vdev, s.ReadU32(IommuVdeviceAlloc.OutVdeviceId));
            }
        }

        void OpenClose(Worker w)
        {
            var s = NewScratch();
            while (!w.Stopping)
            {
                w.Step("open /dev/iommu");
                int fd = p.Open("/dev/iommu");
                if (fd < 0) { Allowed(fd, "open", Errno.EMFILE); continue; }
                w.Step("IOAS_ALLOC on the new fd");
                var ioas = new byte[IommuIoasAlloc.SizeOf];
                BinaryPrimitives.WriteUInt32LittleEndian(ioas, IommuIoasAlloc.SizeOf);
                Allowed(s.Ioctl(fd, IommufdIoctl.IoasAlloc, ioas), "IOAS_ALLOC", Errno.EBADF);
                w.Step("close");
                Allowed(p.Close(fd), "close", Errno.EBADF);
            }
        }

        void Admin(Worker w)
        {
            while (!w.Stopping)
            {
                w.Step("disconnect");
                Allowed(kernel.Sysfs.Write(Disconnect, "tsm0"), "disconnect", Errno.ENXIO);
                Thread.Yield();
                w.Step("connect");
                Allowed(kernel.Sysfs.Write(Connect, "tsm0"), "connect", Errno.EBUSY);
                Thread.Sleep(5);
            }
        }

        // Enough happened once the platform saw a bind and a request (on a loaded machine that takes longer).
        bool Enough() => Volatile.Read(ref rig.Platform.Binds) > 0 && Volatile.Read(ref rig.Platform.Requests) > 0;

        void Exit(Worker w)
        {
            if (!exitMidway) return;
            var waited = System.Diagnostics.Stopwatch.StartNew();
            while (!Enough() && waited.Elapsed < 2 * RunFor) Thread.Sleep(5);
            Thread.Sleep(RunFor / 4);
            w.Step("process exit");
            p.Exit();
            exited.Set();
        }

        var workers = Watchdog.Run(RunFor, HangLimit, Enough,
            ("req-1", Requests), ("req-2", Requests), ("bind", BindUnbind), ("destroy", DestroyRecreate),
            ("open-close", OpenClose), ("admin", Admin), ("exit", Exit));

        if (exitMidway) Assert.True(exited.IsSet);
        foreach (var ctx in kernel.IommufdContexts) AssertUsersMatchTheGraph(ctx);
        Assert.All(workers.Where(w => w.Name != "exit"), w => Assert.True(w.Steps > 10, $"{w.Name} made only {w.Steps} steps"));
        p.Exit();
        // No leaks: every context released, no TDI bound, no VFIO binding, every VM destroyed.
        Assert.True(kernel.IommufdContexts.Count == 0, $"leaked contexts: {string.Join("; ", kernel.IommufdContexts.Select(c => $"refs {c.References}, objects {string.Join(",", c.Objects.Select(o => $"{o.Type}#{o.Id} users {o.Users}"))}"))}");
        Assert.All(kernel.Functions, f => Assert.Null(f.Tdi));
        Assert.All(kernel.VfioDevices, d => Assert.Equal(0, d.OpenCount));
        Assert.True(!kernel.Vms.Any(), $"leaked VMs: {string.Join(", ", kernel.Vms.Select(v => $"{v} users {v.Users}"))}");
        Assert.Empty(p.OpenFiles());
        Assert.Equal(rig.Platform.Binds, rig.Platform.Unbinds);
        AssertValidHistory(log.Events);
    }

    /// <summary>
    /// Found by the stress test: a vDevice that VFIO's unbind and IOMMU_DESTROY both wait to tear
    /// down (another thread's ioctl holds it) must be destroyed once, whichever wakes first.
    /// </summary>
    [Fact]
    public void UnbindAndDestroyWaitingForTheSameVdevice_DestroyItOnce()
    {
        for (int round = 0; round < 8; round++)
        {
            var rig = TestHosts.Assigned(TvmArch.Cca);
            var ctx = rig.Kernel.IommufdContexts.Single();
            var held = new ManualResetEventSlim();
            var release = new ManualResetEventSlim();
            var ioctl = new Thread(() =>
            {
                int mark = IommufdContext.BeginCall();
                Assert.NotNull(ctx.Get<Vdevice>(rig.Vdev));
                held.Set();
                release.Wait();
                IommufdContext.EndCall(mark);
            });
            ioctl.Start();
            held.Wait();
            int destroyRc = 1;
            // The KVM VFIO device holds the VFIO file too: close it first, so closing the VFIO fd unbinds.
            Assert.Equal(0, rig.Vmm.Close(rig.Assignment.KvmVfioFd));
            var unbind = new Thread(() => Assert.Equal(0, rig.Vmm.Close(rig.Assignment.VfioFd)));
            var destroy = new Thread(() => destroyRc = ctx.Remove(rig.Vdev));
            unbind.Start();
            destroy.Start();
            Thread.Sleep(50);
            Assert.True(unbind.IsAlive && destroy.IsAlive, "both must wait for the ioctl's short-term reference");
            release.Set();
            Assert.True(ioctl.Join(5000) && unbind.Join(5000) && destroy.Join(5000), "hang");
            Assert.True(destroyRc is 0 or -2, $"destroy {destroyRc}");
            AssertUsersMatchTheGraph(ctx);
            Assert.Null(rig.Function.Tdi);
            rig.Vmm.Exit();
            Assert.Empty(rig.Kernel.IommufdContexts);
            Assert.Empty(rig.Kernel.Vms);
        }
    }

    /// <summary>Every object's users count is 1 (the table) plus what depends on it, as the object graph says.</summary>
    private static void AssertUsersMatchTheGraph(IommufdContext ctx)
    {
        var all = ctx.Objects.ToList();
        foreach (var o in all)
        {
            int expected = 1 + o switch
            {
                IommufdDevice d => 1 + (d.Vdevice is null ? 0 : 1),
                Ioas i => all.OfType<HwPagetable>().Count(h => ReferenceEquals(h.Ioas, i)),
                HwPagetable h => all.OfType<IommufdDevice>().Count(d => ReferenceEquals(d.Attached, h)) + all.OfType<Viommu>().Count(v => ReferenceEquals(v.Hwpt, h)),
                Viommu v => all.OfType<Vdevice>().Count(x => ReferenceEquals(x.Viommu, v)),
                _ => 0,
            };
            Assert.True(o.Users == expected, $"{o.Type}#{o.Id}: users {o.Users}, the graph says {expected}");
        }
    }

    /// <summary>
    /// The TSM core's decisions, in the order its DSM mutex admitted them: binds and unbinds alternate
    /// (starting unbound), and a guest request reaches the platform only while bound.
    /// </summary>
    private static void AssertValidHistory(IReadOnlyList<TraceEvent> events)
    {
        bool bound = false;
        int binds = 0, requests = 0;
        foreach (var e in events.Where(e => e.Kind == TraceKind.Decision))
        {
            switch (e.Name)
            {
                case "pci_tsm_bind" when e.Result == "0":
                    Assert.False(bound, $"bind while bound at seq {e.Seq}");
                    bound = true;
                    binds++;
                    break;
                case "pci_tsm_unbind":
                    Assert.True(bound, $"unbind while unbound at seq {e.Seq}");
                    bound = false;
                    break;
                case "guest_req":
                    Assert.True(bound, $"guest request reached the platform while unbound at seq {e.Seq}");
                    requests++;
                    break;
            }
        }
        Assert.False(bound, "still bound at the end");
        Assert.True(binds > 0, "the run never bound (the stress did not stress)");
        Assert.True(requests > 0, "no guest request ever reached the platform");
    }
}
