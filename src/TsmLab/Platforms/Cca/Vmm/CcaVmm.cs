using TsmLab.Abi;
using TsmLab.Kernel;
using TsmLab.Platforms.Cca.Abi;
using TsmLab.Platforms.Cca.HostDriver;
using TsmLab.Vmm;
using System.Buffers.Binary;

namespace TsmLab.Platforms.Cca.Vmm;

/// <summary>
/// A realm VMM's device-assignment exit handling: RHI host calls forwarded as
/// KVM_EXIT_HYPERCALL (x0-x5 in <c>args</c>) are decoded, turned into TSM requests or TSM_OP
/// bind/unbind on its iommufd fd, and answered in x0/x1 with RHI status codes; KVM_EXIT_ARM64_TIO
/// is answered through VALIDATE_MMIO (op-arch) or REC_DA_VDEV_MAP (scope). The VMM keeps its own
/// map from the guest's vdev_id (guest RID) to its vDevice id, and holds only fds, ids and
/// addresses in its own memory.
/// </summary>
public sealed class CcaVmm : IRealmExitHandler
{
    private readonly Process process;
    private readonly IommufdCalls calls;
    private readonly int iommuFd;
    private readonly GuestRam ram;
    private readonly Dictionary<ulong, uint> vdevices = new();

    public CcaVmm(IommufdCalls calls, int iommuFd, GuestRam ram, TsmAbiProfile profile, int longCallTicks = 1)
    {
        process = calls.Process;
        this.calls = calls;
        this.iommuFd = iommuFd;
        this.ram = ram;
        Requests = new CcaTsmRequests(calls, iommuFd, profile);
        Worker = new LongCallWorker(longCallTicks);
    }

    public CcaTsmRequests Requests { get; }
    public LongCallWorker Worker { get; }

    /// <summary>One line per handled exit: the call and the status answered.</summary>
    public List<string> Log { get; } = new();

    /// <summary>Tells the VMM which vDevice backs the guest's device <paramref name="vdevId"/> (its guest RID).</summary>
    public void AddDevice(ulong vdevId, uint vdeviceId) => vdevices[vdevId] = vdeviceId;

    public void HandleExit(ulong kvmRunHva)
    {
        calls.Scratch.Reset();
        Span<byte> run = stackalloc byte[KvmRunArm.Size];
        if (process.Memory.CopyFromUser(run, kvmRunHva) < 0) return;
        uint reason = BinaryPrimitives.ReadUInt32LittleEndian(run[KvmRunArm.ExitReason..]);
        if (reason == KvmRunArm.ExitHypercall)
        {
            Span<ulong> x = stackalloc ulong[6];
            for (int i = 0; i < 6; i++) x[i] = BinaryPrimitives.ReadUInt64LittleEndian(run[(KvmRunArm.HypercallArgs + 8 * i)..]);
            ulong fid = BinaryPrimitives.ReadUInt64LittleEndian(run[KvmRunArm.HypercallNr..]);
            // Every exit gives the worker a turn, except ABORT, which the VMM serves before the worker moves on.
            if (fid != Rhi.DaVdevAbort) Worker.Tick();
            Span<ulong> o = stackalloc ulong[4];
            HostCall(fid, x, o);
            for (int i = 0; i < 4; i++) BinaryPrimitives.WriteUInt64LittleEndian(run[(KvmRunArm.HypercallArgs + 8 * i)..], o[i]);
            Log.Add($"RHI 0x{fid:x} -> {(fid == Rhi.DaFeatures ? $"0x{o[0]:x}" : ((RhiStatus)o[0]).ToString())}");
        }
        else if (reason == KvmRunArm.ExitArm64Tio)
        {
            ulong response = ValidateMapping(BinaryPrimitives.ReadUInt64LittleEndian(run[KvmRunArm.CcaVdevId..]), BinaryPrimitives.ReadUInt64LittleEndian(run[KvmRunArm.CcaGpaBase..]),
                BinaryPrimitives.ReadUInt64LittleEndian(run[KvmRunArm.CcaGpaTop..]), BinaryPrimitives.ReadUInt64LittleEndian(run[KvmRunArm.CcaPaBase..]));
            BinaryPrimitives.WriteUInt64LittleEndian(run[KvmRunArm.CcaResponse..], response);
            Log.Add($"TIO validate -> {response}");
        }
        process.Memory.CopyToUser(kvmRunHva, run);
    }

    /// <summary>KVM_EXIT_ARM64_TIO: 0 when the mapping was made, else the positive errno (KVM then rejects).</summary>
    private ulong ValidateMapping(ulong vdevId, ulong gpaBase, ulong gpaTop, ulong paBase)
    {
        if (!vdevices.TryGetValue(vdevId, out uint vdev)) return (ulong)Errno.ENOENT;
        long rc = Requests.ValidateMmio(vdev, gpaBase, gpaTop, paBase);
        return rc < 0 ? (ulong)(-rc) : 0;
    }

    /// <summary>The RHI calls this VMM handles (any other FID answers NOT_SUPPORTED): one row per call.</summary>
    private static readonly RhiCall[] RhiCalls =
    [
        new(Rhi.DaFeatures, "RHI_DA_FEATURES", NeedsVdev: false, static (_, _, _, _, o) =>
        {
            o[0] = Rhi.BaseFeatures | Rhi.FeatVdevContinue | Rhi.FeatAbort;
            return null;
        }),
        new(Rhi.DaObjectSize, "RHI_DA_OBJECT_SIZE", NeedsVdev: true, static (v, _, vdev, x, o) => v.ObjectSize(vdev, x, o)),
        new(Rhi.DaObjectRead, "RHI_DA_OBJECT_READ", NeedsVdev: true, static (v, _, vdev, x, o) => v.ObjectRead(vdev, x, o)),
        new(Rhi.DaVdevGetInterfaceReport, "RHI_DA_VDEV_GET_INTERFACE_REPORT", NeedsVdev: true, static (v, id, vdev, _, o) =>
            v.Worker.Submit(id, () => FromErrno(v.Requests.Regenerate(vdev, CacheObject.InterfaceReport, 0, 0)), out o[1])),
        new(Rhi.DaVdevGetMeasurements, "RHI_DA_VDEV_GET_MEASUREMENTS", NeedsVdev: true, static (v, id, vdev, x, o) => v.GetMeasurements(id, vdev, x, o)),
        new(Rhi.DaVdevSetTdiState, "RHI_DA_VDEV_SET_TDI_STATE", NeedsVdev: true, static (v, id, vdev, x, o) => v.SetTdiState(id, vdev, x, o)),
        new(Rhi.DaVdevContinue, "RHI_DA_VDEV_CONTINUE", NeedsVdev: true, static (v, id, _, x, o) =>
        {
            var status = v.Worker.Continue(id, x[2]);
            if (status == RhiStatus.Incomplete) o[1] = x[2];
            return status;
        }),
        new(Rhi.DaVdevAbort, "RHI_DA_VDEV_ABORT", NeedsVdev: true, static (v, id, _, _, _) => v.Worker.Abort(id)),
    ];

    /// <summary>A handler: the status to put in x0 (null when it wrote x0 itself), outputs in <c>o</c>.</summary>
    private delegate RhiStatus? RhiHandler(CcaVmm vmm, ulong vdevId, uint vdev, ReadOnlySpan<ulong> x, Span<ulong> o);

    /// <summary>One RHI call: FID, name, whether x1 names a vDevice that must be known, and its handler.</summary>
    private sealed record RhiCall(ulong Fid, string Name, bool NeedsVdev, RhiHandler Handler);

    private void HostCall(ulong fid, ReadOnlySpan<ulong> x, Span<ulong> o)
    {
        o.Clear();
        RhiCall? call = null;
        foreach (var c in RhiCalls)
            if (c.Fid == fid) { call = c; break; }
        if (call is null)
        {
            o[0] = Rhi.NotSupported;
            return;
        }
        ulong vdevId = x[1];
        uint vdev = 0;
        if (call.NeedsVdev && !vdevices.TryGetValue(vdevId, out vdev))
        {
            o[0] = (ulong)RhiStatus.InvalidVdevId;
            return;
        }
        if (call.Handler(this, vdevId, vdev, x, o) is { } status) o[0] = (ulong)status;
    }

    private RhiStatus ObjectSize(uint vdev, ReadOnlySpan<ulong> x, Span<ulong> o)
    {
        if (!CcaRequest.RhiObject(x[2], out var obj)) return RhiStatus.InvalidObject;
        long rc = Requests.ObjectSize(vdev, obj, x[2], out uint size);
        o[1] = rc < 0 ? 0 : size;
        return rc < 0 ? ObjectStatus(rc) : RhiStatus.Success;
    }

    private RhiStatus ObjectRead(uint vdev, ReadOnlySpan<ulong> x, Span<ulong> o)
    {
        if (!CcaRequest.RhiObject(x[2], out var obj)) return RhiStatus.InvalidObject;
        if (x[4] > uint.MaxValue || !ram.TryHva(x[3], Math.Max(x[4], 1), out ulong hva)) return RhiStatus.AccessFailed;
        long rc = Requests.ReadObject(vdev, obj, x[2], x[5], hva, (uint)x[4]);
        o[1] = rc < 0 ? 0 : x[4] - (ulong)rc;
        return rc < 0 ? ObjectStatus(rc) : RhiStatus.Success;
    }

    private RhiStatus GetMeasurements(ulong vdevId, uint vdev, ReadOnlySpan<ulong> x, Span<ulong> o)
    {
        Span<byte> flags = stackalloc byte[8];
        if (!ram.Read(x[2], flags) || !ram.TryHva(x[2] + Rhi.MeasParamsNonce, Rhi.NonceSize, out ulong nonceHva)) return RhiStatus.AccessFailed;
        ulong f = BinaryPrimitives.ReadUInt64LittleEndian(flags);
        return Worker.Submit(vdevId, () => FromErrno(Requests.Regenerate(vdev, CacheObject.Measurements, f, nonceHva)), out o[1]);
    }

    private RhiStatus SetTdiState(ulong vdevId, uint vdev, ReadOnlySpan<ulong> x, Span<ulong> o)
    {
        Func<RhiStatus>? op = x[2] switch
        {
            Rhi.TdiConfigLocked => () => FromErrno(calls.TsmOp(iommuFd, vdev, IommuVdeviceTsmOp.TypeBind)),
            Rhi.TdiRun => () => FromErrno(Requests.SetTdiState(vdev, (uint)Rhi.TdiRun)),
            Rhi.TdiConfigUnlocked => () => FromErrno(calls.TsmOp(iommuFd, vdev, IommuVdeviceTsmOp.TypeUnbind)),
            _ => null,
        };
        return op is null ? RhiStatus.Input : Worker.Submit(vdevId, op, out o[1]);
    }

    /// <summary>Errno to RHI status for an object read: a TDI not bound or an object not fetched is DATA_NOT_AVAILABLE.</summary>
    private static RhiStatus ObjectStatus(long rc) => rc == Errno.ENXIO.Neg() ? RhiStatus.DataNotAvailable : FromErrno(rc);

    /// <summary>
    /// Errno to RHI status (TsmLab definition): 0 or residue SUCCESS; ENOENT INVALID_VDEV_ID;
    /// ENODATA DATA_NOT_AVAILABLE; ERANGE INVALID_OFFSET; EFAULT ACCESS_FAILED; EBUSY BUSY;
    /// EINVAL and ENXIO INPUT; anything else (EIO) DEVICE.
    /// </summary>
    public static RhiStatus FromErrno(long rc) => rc >= 0 ? RhiStatus.Success : (Errno)(int)-rc switch
    {
        Errno.ENOENT => RhiStatus.InvalidVdevId,
        Errno.ENODATA => RhiStatus.DataNotAvailable,
        Errno.ERANGE => RhiStatus.InvalidOffset,
        Errno.EFAULT => RhiStatus.AccessFailed,
        Errno.EBUSY => RhiStatus.Busy,
        Errno.EINVAL or Errno.ENXIO => RhiStatus.Input,
        _ => RhiStatus.Device,
    };
}
