using BenchmarkDotNet.Attributes;
using TsmLab.Abi;
using TsmLab.Hosts;
using TsmLab.Kernel;
using TsmLab.Kernel.Pci;
using TsmLab.Tdisp.Device;
using TsmLab.Vmm;

namespace TsmLab.Bench;

/// <summary>
/// Parallelism on the TSM request path (issue 15 §4). A host with two TDISP devices (two PFs, each
/// with its VFs) connected to a TSM that answers at once, and one VMM process with three
/// assignments: PF A, PF B and a VF of PF A. One operation is one IOMMU_VDEVICE_TSM_REQ; each
/// benchmark issues <see cref="Requests"/> of them per thread. Two threads on two PFs share only
/// the TSM core's rwsem (for read), the process's fd table and its address space; two threads on
/// functions of one PF also serialise on that PF's DSM mutex, as Linux does. The second thread is
/// a long-lived worker released by the benchmark, so no thread is created in a measurement; Mean
/// is the time per request (OperationsPerInvoke counts both threads' requests), so the speed-up
/// is OneThread's Mean over the two-thread Mean. The anchor is a real syscall (getppid) issued the
/// same way from one and from two threads: its two-thread speed-up is what the machine itself gives
/// at that moment (on a loaded 2-core VM, well below 2).
/// </summary>
[MemoryDiagnoser]
public class ParallelBench
{
    /// <summary>Requests per thread per benchmark invocation.</summary>
    public const int Requests = 20_000;

    private Process vmm = null!;
    private (int Fd, ulong Req) pfA, pfB, vfA;
    private Thread worker = null!;
    private readonly SemaphoreSlim go = new(0);
    private readonly ManualResetEventSlim done = new(false);
    private (int Fd, ulong Req) workerTarget;
    private bool workerSyscalls;
    private volatile bool stopping;

    [GlobalSetup]
    public void Setup()
    {
        var d = DeviceConfiguration.Default;
        var a = d;
        var b = d with { Bus = (byte)(d.Bus + 1) }; // a second device on the next bus
        var config = new HostConfiguration
        {
            Name = "parallel", Arch = HostArch.Arm64, VmTypes = [new ConfidentialVmType(KvmVmType.ArmRealm, TvmArch.Cca)], Iommu = HostIommu.ArmSmmuV3Realm,
            Functions = [.. BuiltInHosts.FunctionsOf(a), .. BuiltInHosts.FunctionsOf(b)],
            Tsms = [new TsmSpec("bench", (_, _) => new ImmediateTsm(TvmArch.Cca))],
        };
        int functionsPerDevice = 1 + d.Sriov!.Count;
        config = config with { Connects = [(config.Functions[0].Address, "tsm0"), (config.Functions[functionsPerDevice].Address, "tsm0")] };
        var kernel = HostKernel.Boot(config);
        vmm = kernel.CreateProcess();
        pfA = Assign(0, 3);
        pfB = Assign(functionsPerDevice, 4);
        vfA = Assign(1, 5);
        worker = new Thread(Work) { IsBackground = true, Name = "second vCPU" };
        worker.Start();
        if (OneThread() != 0 || TwoThreadsTwoPfs() != 0 || TwoThreadsOnePf() != 0) throw new InvalidOperationException("a request failed");
    }

    /// <summary>Assigns vfio<paramref name="vfio"/> in a VM of its own, binds it, and builds its SET_TDI_STATE request (in the VMM's memory).</summary>
    private (int, ulong) Assign(int vfio, byte slot)
    {
        var a = new DeviceAssignment(vmm, new AssignmentPlan($"/dev/vfio/devices/vfio{vfio}", KvmVmType.ArmRealm, IommuViommuAlloc.TypeArmRealmSmmuV3OrAmd, new PciAddress(0, 0, slot, 0)));
        if (!a.Prepare() || !a.Bind()) throw new InvalidOperationException($"assignment of vfio{vfio} failed");
        // Each thread's request in its own page of the VMM's memory, as each vCPU thread has its own
        // (DeviceAssignment's scratch area is at one fixed address for every assignment).
        var own = new IommufdCalls(vmm, new ScratchMemory(vmm, 0x7e00_0000_0000 + (ulong)slot * 0x10_0000, 0x10_0000));
        return (a.IommuFd, CcaStructs.TsmReq(own, a.VdeviceId, TsmReqOp.SetTdiState, BitConverter.GetBytes(1u)));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        stopping = true;
        go.Release();
        worker.Join();
    }

    private void Work()
    {
        while (true)
        {
            go.Wait();
            if (stopping) return;
            if (workerSyscalls) Syscalls();
            else Run(workerTarget);
            done.Set();
        }
    }

    private long Run((int Fd, ulong Req) t)
    {
        long rc = 0;
        for (int i = 0; i < Requests; i++) rc |= vmm.Ioctl(t.Fd, IommufdIoctl.VdeviceTsmReq, t.Req);
        return rc;
    }

    private static long Syscalls()
    {
        long rc = 0;
        for (int i = 0; i < Requests; i++) rc |= TsmLab.Linux.Sys.Call(TsmLab.Linux.SysNr.Getppid);
        return rc > 0 ? 0 : -1;
    }

    private long Both((int Fd, ulong Req) mine, (int Fd, ulong Req) theirs)
    {
        workerSyscalls = false;
        workerTarget = theirs;
        done.Reset();
        go.Release();
        long rc = Run(mine);
        done.Wait();
        return rc;
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Requests, Description = "1 thread, PF A")]
    public long OneThread() => Run(pfA);

    [Benchmark(OperationsPerInvoke = 2 * Requests, Description = "2 threads, PF A and PF B")]
    public long TwoThreadsTwoPfs() => Both(pfA, pfB);

    [Benchmark(OperationsPerInvoke = 2 * Requests, Description = "2 threads, PF A and a VF of PF A")]
    public long TwoThreadsOnePf() => Both(pfA, vfA);

    [Benchmark(OperationsPerInvoke = Requests, Description = "anchor: getppid(2), 1 thread")]
    public long SyscallOneThread() => Syscalls();

    [Benchmark(OperationsPerInvoke = 2 * Requests, Description = "anchor: getppid(2), 2 threads")]
    public long SyscallTwoThreads()
    {
        workerSyscalls = true;
        done.Reset();
        go.Release();
        long rc = Syscalls();
        done.Wait();
        return rc;
    }
}
