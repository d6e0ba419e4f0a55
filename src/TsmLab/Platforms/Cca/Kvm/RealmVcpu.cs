using System.Buffers.Binary;
using TsmLab.Kernel;
using TsmLab.Kernel.Kvm;
using TsmLab.Platforms.Cca.Abi;
using TsmLab.Hardware;
using TsmLab.Platforms.Cca.Firmware;
using TsmLab.Platforms.Cca.Vmm;

namespace TsmLab.Platforms.Cca.Kvm;

/// <summary>
/// A realm vCPU as KVM runs it (arch/arm64/kvm/rme-exit.c and the v4 series [A4,A7]): the CPU
/// traps the realm's SMC into the RMM; when the REC exits to the host, KVM turns
/// RMI_EXIT_HOST_CALL for a forwarded RHI FID into KVM_EXIT_HYPERCALL and
/// RMI_EXIT_VDEV_VALIDATE_MAPPING into KVM_EXIT_ARM64_TIO (rejecting shared IPAs itself), hands
/// <c>kvm_run</c> to the VMM, copies its answer into the REC run page, loops RMI_RTT_DEV_VALIDATE
/// when the VMM accepted a mapping (else sets REC_ENTER_FLAG_DEV_MEM_RESPONSE) and re-enters
/// with RMI_REC_ENTER. The model has no vCPU fd or KVM_RUN ioctl: the test or session that
/// creates the vCPU wires it to the VMM's exit handler.
/// </summary>
public sealed class RealmVcpu
{
    /// <summary>KVM_HYPERCALL_EXIT_SMC: the call was an SMC (include/uapi/linux/kvm.h).</summary>
    public const ulong HypercallExitSmc = 1;

    private readonly CcaRmm rmm;
    private readonly PhysicalMemory memory;
    private readonly Process vmm;
    private readonly ulong kvmRunHva;
    private readonly ulong rd, rec, run;
    private readonly int ipaBits;

    /// <summary>Creates the vCPU's REC and attaches the realm's memory to the RMM.</summary>
    public RealmVcpu(HostKernel kernel, KvmVm vm, Process vmm, ulong kvmRunHva, IRealmMemory realmMemory, IRealmExitHandler exits, int ipaBits = 48)
    {
        var realms = RealmRegistry.Of(kernel);
        rmm = realms.Rmm;
        memory = realms.Memory;
        this.vmm = vmm;
        this.kvmRunHva = kvmRunHva;
        this.ipaBits = ipaBits;
        Exits = exits;
        rd = realms.RdFor(vm);
        (rec, run) = realms.CreateRec(vm);
        if (rd == 0 || rec == 0 || !rmm.AttachRealmMemory(rd, realmMemory))
            throw new InvalidOperationException("not a realm VM (a model wiring error)");
    }

    /// <summary>Where exits go (a test may interpose a hostile VMM).</summary>
    public IRealmExitHandler Exits { get; set; }

    /// <summary>Exits delivered to the VMM so far.</summary>
    public int ExitCount { get; private set; }

    /// <summary>The realm executes SMC with <paramref name="regs"/> (x0..x8); results come back in it.</summary>
    public void Smc(Span<ulong> regs)
    {
        if (rmm.Rsi(rec, run, regs) == RsiOutcome.Completed) return;
        Span<byte> page = stackalloc byte[Rmi.Granule];
        memory.Read(run, page);
        ulong reason = U64(page, Rmi.RunExitReason);
        Span<byte> kvmRun = stackalloc byte[KvmRunArm.Size];
        kvmRun.Clear();
        ulong flags = 0;
        if (reason == Rmi.ExitHostCall)
        {
            for (int i = 0; i < Rmi.RunGprCount; i++) Put(page, Rmi.RunEntryGprs + 8 * i, U64(page, Rmi.RunExitGprs + 8 * i));
            ulong fid = U64(page, Rmi.RunExitGprs);
            if (Rhi.IsDeviceAssignment(fid))
            {
                BinaryPrimitives.WriteUInt32LittleEndian(kvmRun[KvmRunArm.ExitReason..], KvmRunArm.ExitHypercall);
                Put(kvmRun, KvmRunArm.HypercallNr, fid);
                for (int i = 0; i < 6; i++) Put(kvmRun, KvmRunArm.HypercallArgs + 8 * i, U64(page, Rmi.RunExitGprs + 8 * i));
                Put(kvmRun, KvmRunArm.HypercallFlags, HypercallExitSmc);
                ToVmm(kvmRun);
                for (int i = 0; i < 4; i++) Put(page, Rmi.RunEntryGprs + 8 * i, U64(kvmRun, KvmRunArm.HypercallArgs + 8 * i));
            }
            else Put(page, Rmi.RunEntryGprs, Rhi.NotSupported); // no SMCCC filter forwards it: KVM answers NOT_SUPPORTED
        }
        else if (reason == rmm.Options.ValidateMappingExitReason)
        {
            ulong b = U64(page, Rmi.RunExitDevMemBase), t = U64(page, Rmi.RunExitDevMemTop);
            ulong shared = 1ul << (ipaBits - 1);
            ulong response = 1;
            if ((b & shared) == 0 && (t - 1 & shared) == 0)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(kvmRun[KvmRunArm.ExitReason..], KvmRunArm.ExitArm64Tio);
                Put(kvmRun, KvmRunArm.CcaNr, reason);
                Put(kvmRun, KvmRunArm.CcaVdevId, U64(page, Rmi.RunExitVdevId));
                Put(kvmRun, KvmRunArm.CcaGpaBase, b);
                Put(kvmRun, KvmRunArm.CcaGpaTop, t);
                Put(kvmRun, KvmRunArm.CcaPaBase, U64(page, Rmi.RunExitDevMemPa));
                ToVmm(kvmRun);
                response = U64(kvmRun, KvmRunArm.CcaResponse);
                ulong top = Math.Min(U64(kvmRun, KvmRunArm.CcaGpaTop), t);
                if (response == 0)
                {
                    ulong progress = b;
                    while (progress < top)
                    {
                        if (RealmRegistry.Call(rmm, Rmi.RttDevValidate, out ulong next, rd, rec, progress, top) != RmiStatus.Success || next <= progress) break;
                        progress = next;
                    }
                }
            }
            flags = response == 0 ? 0 : Rmi.RecEnterFlagDevMemResponse;
        }
        Put(page, Rmi.RunEntryFlags, flags);
        memory.Write(run, page[..Rmi.RunExit]);
        if (RealmRegistry.Call(rmm, Rmi.RecEnter, out ulong completed, rec, run) != RmiStatus.Success || completed != 1)
            throw new InvalidOperationException("REC_ENTER did not resume the realm (a model wiring error)");
        rmm.ResumeRealm(rec, regs);
    }

    private void ToVmm(Span<byte> kvmRun)
    {
        vmm.Memory.CopyToUser(kvmRunHva, kvmRun);
        ExitCount++;
        var log = vmm.Kernel.Trace;
        long seq = log?.Reserve() ?? 0;
        Exits.HandleExit(kvmRunHva);
        vmm.Memory.CopyFromUser(kvmRun, kvmRunHva);
        if (log is null) return;
        uint reason = BinaryPrimitives.ReadUInt32LittleEndian(kvmRun[KvmRunArm.ExitReason..]);
        if (reason == KvmRunArm.ExitHypercall)
        {
            ulong fid = U64(kvmRun, KvmRunArm.HypercallNr);
            ulong x0 = U64(kvmRun, KvmRunArm.HypercallArgs);
            log.Record(seq, Tracing.TraceLayer.Guest, Tracing.TraceLayer.Vmm, Tracing.TraceKind.GuestExit, Abi.CcaCalls.NameOf(fid),
                fid == Rhi.DaFeatures ? $"x0=0x{x0:x}" : ((RhiStatus)x0).ToString(),
                new("exit", "KVM_EXIT_HYPERCALL"), new("fid", $"0x{fid:x}"), new("x1", $"0x{U64(kvmRun, KvmRunArm.HypercallArgs + 8):x}"));
        }
        else
        {
            log.Record(seq, Tracing.TraceLayer.Guest, Tracing.TraceLayer.Vmm, Tracing.TraceKind.GuestExit, "KVM_EXIT_ARM64_TIO",
                $"response={U64(kvmRun, KvmRunArm.CcaResponse)}", new("vdev_id", $"0x{U64(kvmRun, KvmRunArm.CcaVdevId):x}"),
                new("gpa_base", $"0x{U64(kvmRun, KvmRunArm.CcaGpaBase):x}"), new("gpa_top", $"0x{U64(kvmRun, KvmRunArm.CcaGpaTop):x}"));
        }
    }

    private static ulong U64(ReadOnlySpan<byte> s, int o) => BinaryPrimitives.ReadUInt64LittleEndian(s[o..]);
    private static void Put(Span<byte> s, int o, ulong v) => BinaryPrimitives.WriteUInt64LittleEndian(s[o..], v);
}
