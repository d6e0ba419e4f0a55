using BenchmarkDotNet.Attributes;
using TsmLab.Abi;
using TsmLab.Platforms.Cca;
using TsmLab.Platforms.Cca.Abi;
using TsmLab.Tdisp.Wire;

namespace TsmLab.Bench;

/// <summary>
/// Benchmark 2, state changes that reach the device: on a <c>cca</c> host with one realm, the VMM's
/// IOMMU_VDEVICE_TSM_REQ (op-arch, tvm_arch CCA) through the fd table, the iommufd dispatch, the
/// TSM core (rwsem, DSM mutex, payload copy-in), the CCA host driver and RMI SMCs into the RMM,
/// which talks TDISP to the device over SPDM VENDOR_DEFINED + DOE; then the struct copy-back.
/// Neither operation can be repeated on the same TDI (RUN is accepted only from LOCKED; a page
/// is mapped once), so every iteration starts from a freshly locked TDI: the
/// <see cref="IterationSetup"/> issues TSM_OP(UNBIND) and TSM_OP(BIND) (VDEV_UNLOCK/STOP,
/// VDEV_CREATE, LOCK_INTERFACE) and is not measured; one iteration is one operation. The global
/// setup runs both paths 400 times first so they are measured in optimised (tier-1) code, and
/// GcForce(false) keeps BenchmarkDotNet from running a full GC before each single-operation
/// iteration (with it, every operation is measured on cold caches: about 20 µs instead of 2).
/// </summary>
[MemoryDiagnoser]
[InvocationCount(1)]
[IterationCount(20)]
[WarmupCount(5)]
[GcForce(false)]
public class CcaStateChangeBench
{
    private CcaRealmSession s = null!;
    private int fd;
    private ulong run, map, bind, unbind;

    [GlobalSetup]
    public void Setup()
    {
        s = CcaRealmSession.Start();
        // The guest's own lock (with its evidence check) tells us the TEE ranges; it leaves the TDI LOCKED.
        if (!s.Guest.Lock()) throw new InvalidOperationException("lock failed: " + s.Guest.Failure);
        var tee = s.Guest.Evidence!.ParsedReport!.Ranges.First(r => (r.Attributes & MmioRangeAttributes.IsNonTeeMem) == 0 && r.NumberOfPages >= MapPages);
        var calls = s.Assignment.Calls;
        fd = s.Assignment.IommuFd;
        uint vdev = s.Assignment.VdeviceId;
        run = CcaStructs.TsmReq(calls, vdev, TsmReqOp.SetTdiState, CcaStructs.U32(Rhi.TdiRun));
        map = CcaStructs.TsmReq(calls, vdev, TsmReqOp.ValidateMmio, CcaStructs.Mmio(GuestMmio, GuestMmio + MapPages * Rmi.Granule, tee.FirstPage));
        bind = CcaStructs.TsmOp(calls, vdev, IommuVdeviceTsmOp.TypeBind);
        unbind = CcaStructs.TsmOp(calls, vdev, IommuVdeviceTsmOp.TypeUnbind);
        // One checked round of each, so a broken setup fails here and not as a fast error path.
        Relock();
        CcaStructs.Check(s.Assignment.Calls.Process.Ioctl(fd, IommufdIoctl.VdeviceTsmReq, map), "VALIDATE_MMIO");
        CcaStructs.Check(s.Assignment.Calls.Process.Ioctl(fd, IommufdIoctl.VdeviceTsmReq, run), "SET_TDI_STATE(RUN)");
        if (s.Device.Interfaces[0].State != TdiState.Run) throw new InvalidOperationException("RUN did not reach the device");
        // One operation per iteration would leave these paths in tier-0 code (the JIT promotes a
        // method after 30 calls and a quiet 100 ms): run them enough, twice, with a pause.
        for (int round = 0; round < 2; round++)
        {
            for (int i = 0; i < 200; i++)
            {
                Relock();
                Run();
                MapFresh();
            }
            Thread.Sleep(300);
        }
    }

    /// <summary>The IPA the mapping is made at (the guest's first device range) and the pages it covers.</summary>
    private const ulong GuestMmio = 0x1_0000_0000, MapPages = 16;

    [IterationSetup]
    public void Relock()
    {
        CcaStructs.Check(s.Assignment.Calls.Process.Ioctl(fd, IommufdIoctl.VdeviceTsmOp, unbind), "TSM_OP(UNBIND)");
        CcaStructs.Check(s.Assignment.Calls.Process.Ioctl(fd, IommufdIoctl.VdeviceTsmOp, bind), "TSM_OP(BIND)");
    }

    /// <summary>SET_TDI_STATE(RUN) from CONFIG_LOCKED: VDEV_START + VDEV_COMMUNICATE, the RMM's START_INTERFACE (LOCK nonce) over DOE, the device LOCKED → RUN.</summary>
    [Benchmark(Description = "CCA SET_TDI_STATE(RUN) from LOCKED")]
    public long Run() => s.Assignment.Calls.Process.Ioctl(fd, IommufdIoctl.VdeviceTsmReq, run);

    /// <summary>VALIDATE_MMIO of 16 fresh pages (64 KiB) of a TEE range: 16 RTT_DEV_MAP SMCs, each checked by the RMM against the LOCKED VDEV's report.</summary>
    [Benchmark(Description = "CCA VALIDATE_MMIO 16 new pages")]
    public long MapFresh() => s.Assignment.Calls.Process.Ioctl(fd, IommufdIoctl.VdeviceTsmReq, map);
}

/// <summary>
/// Benchmark 2, the repeatable requests: VALIDATE_MMIO of a range this TDI already mapped to the
/// same PA (the host driver serves a retried validation with 0 and no SMC, docs/cca.md), so it
/// crosses the whole kernel path and the CCA host driver's decode, range checks and per-page
/// lookups, but not the RMM. And the full cycle a state change needs to repeat on the device:
/// TSM_OP(BIND) + SET_TDI_STATE(RUN) + TSM_OP(UNBIND).
/// </summary>
[MemoryDiagnoser]
public class CcaRequestBench
{
    private CcaRealmSession s = null!;
    private int fd;
    private ulong remap1, remap16, run, bind, unbind;

    [GlobalSetup]
    public void Setup()
    {
        s = CcaRealmSession.Start();
        if (!s.Guest.Lock()) throw new InvalidOperationException("lock failed: " + s.Guest.Failure);
        var tee = s.Guest.Evidence!.ParsedReport!.Ranges.First(r => (r.Attributes & MmioRangeAttributes.IsNonTeeMem) == 0 && r.NumberOfPages >= 16);
        var calls = s.Assignment.Calls;
        fd = s.Assignment.IommuFd;
        uint vdev = s.Assignment.VdeviceId;
        const ulong ipa = 0x1_0000_0000;
        remap1 = CcaStructs.TsmReq(calls, vdev, TsmReqOp.ValidateMmio, CcaStructs.Mmio(ipa, ipa + Rmi.Granule, tee.FirstPage));
        remap16 = CcaStructs.TsmReq(calls, vdev, TsmReqOp.ValidateMmio, CcaStructs.Mmio(ipa, ipa + 16 * Rmi.Granule, tee.FirstPage));
        run = CcaStructs.TsmReq(calls, vdev, TsmReqOp.SetTdiState, CcaStructs.U32(Rhi.TdiRun));
        bind = CcaStructs.TsmOp(calls, vdev, IommuVdeviceTsmOp.TypeBind);
        unbind = CcaStructs.TsmOp(calls, vdev, IommuVdeviceTsmOp.TypeUnbind);
        CcaStructs.Check(s.Assignment.Calls.Process.Ioctl(fd, IommufdIoctl.VdeviceTsmReq, remap16), "VALIDATE_MMIO (first, maps)");
        long before = s.Link.Rmm.RmiLog.Count;
        CcaStructs.Check(s.Assignment.Calls.Process.Ioctl(fd, IommufdIoctl.VdeviceTsmReq, remap16), "VALIDATE_MMIO (again)");
        if (s.Link.Rmm.RmiLog.Count != before) throw new InvalidOperationException("a repeated VALIDATE_MMIO reached the RMM");
        // The cycle's device leg: a second session so the mapped TDI above stays as it is.
        cycle = CcaRealmSession.Start();
        cfd = cycle.Assignment.IommuFd;
        cbind = CcaStructs.TsmOp(cycle.Assignment.Calls, cycle.Assignment.VdeviceId, IommuVdeviceTsmOp.TypeBind);
        crun = CcaStructs.TsmReq(cycle.Assignment.Calls, cycle.Assignment.VdeviceId, TsmReqOp.SetTdiState, CcaStructs.U32(Rhi.TdiRun));
        cunbind = CcaStructs.TsmOp(cycle.Assignment.Calls, cycle.Assignment.VdeviceId, IommuVdeviceTsmOp.TypeUnbind);
        if (LockRunUnlock() != 0) throw new InvalidOperationException("bind/run/unbind cycle failed");
    }

    private CcaRealmSession cycle = null!;
    private int cfd;
    private ulong cbind, crun, cunbind;

    [Benchmark(Baseline = true, Description = "CCA VALIDATE_MMIO 1 page, already mapped")]
    public long Remap1() => s.Assignment.Calls.Process.Ioctl(fd, IommufdIoctl.VdeviceTsmReq, remap1);

    [Benchmark(Description = "CCA VALIDATE_MMIO 16 pages, already mapped")]
    public long Remap16() => s.Assignment.Calls.Process.Ioctl(fd, IommufdIoctl.VdeviceTsmReq, remap16);

    /// <summary>TSM_OP(BIND) (VDEV_CREATE, LOCK_INTERFACE, report fetch), SET_TDI_STATE(RUN) (START_INTERFACE), TSM_OP(UNBIND) (STOP_INTERFACE, VDEV_DESTROY).</summary>
    [Benchmark(Description = "CCA BIND + SET_TDI_STATE(RUN) + UNBIND")]
    public long LockRunUnlock()
    {
        var p = cycle.Assignment.Calls.Process;
        // The RMM logs every RMI call in a List the tests read; emptied (no allocation) so the
        // figure does not depend on how long the run was.
        long rc = p.Ioctl(cfd, IommufdIoctl.VdeviceTsmOp, cbind);
        rc |= p.Ioctl(cfd, IommufdIoctl.VdeviceTsmReq, crun);
        rc |= p.Ioctl(cfd, IommufdIoctl.VdeviceTsmOp, cunbind);
        return rc;
    }
}
