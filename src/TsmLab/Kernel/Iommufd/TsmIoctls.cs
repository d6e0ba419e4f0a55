using TsmLab.Abi;
using TsmLab.Tdisp.Wire;
using TsmLab.Kernel.Tsm;
using System.Buffers.Binary;

namespace TsmLab.Kernel.Iommufd;

/// <summary>
/// The vDevice TSM ioctls: TSM_OP (bind/unbind, K5), TSM_REQ in both ABI profiles (K5 scope;
/// K5r/KC op-arch) and TsmLab's TSM_INFO. Orders of checks are Linux's, with TsmLab's checks
/// placed after the vDevice lookup (docs/errno.md lists every row).
/// </summary>
internal static class TsmIoctls
{
    /// <summary>
    /// IOMMU_VDEVICE_TSM_OP: flags EOPNOTSUPP; vdevice ENOENT; no KVM ENODEV; type neither BIND
    /// nor UNBIND EINVAL; BIND is pci_tsm_bind's result, UNBIND always 0; the 16 bytes are
    /// echoed back on success (EFAULT).
    /// </summary>
    public static int TsmOp(ref IommufdUcmd u)
    {
        if (BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuVdeviceTsmOp.Flags..]) != 0) return Errno.EOPNOTSUPP.Neg();
        var vdev = u.Context.Get<Vdevice>(BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuVdeviceTsmOp.VdeviceId..]));
        if (vdev is null) return Errno.ENOENT.Neg();
        var kvm = vdev.Viommu.Kvm;
        if (kvm is null) return Errno.ENODEV.Neg();
        var tsm = u.Context.Kernel.Tsm;
        switch (BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuVdeviceTsmOp.Type..]))
        {
            case IommuVdeviceTsmOp.TypeBind:
                int rc = tsm.Bind(vdev.Function, kvm, vdev.VirtId);
                if (rc < 0) return rc;
                break;
            case IommuVdeviceTsmOp.TypeUnbind:
                if (vdev.TsmBound) tsm.Unbind(vdev.Function);
                break;
            default:
                return Errno.EINVAL.Neg();
        }
        return u.Respond(IommuVdeviceTsmOp.SizeOf);
    }

    /// <summary>
    /// IOMMU_VDEVICE_TSM_REQ, op-arch profile (KC iommufd_vdevice_tsm_req_ioctl): tvm_arch
    /// unknown EINVAL; op not valid for it EINVAL; vdevice ENOENT; TsmLab: tvm_arch differs from
    /// the VM's EINVAL; tsm_code zeroed; the TSM core's result; the whole struct copied back even
    /// on failure, a fault replacing the result with EFAULT (uncertain if the TSM changed state).
    /// </summary>
    public static int TsmReqOpArch(ref IommufdUcmd u)
    {
        uint arch = BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuVdeviceTsmReqOpArch.TvmArch..]);
        uint op = BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuVdeviceTsmReqOpArch.Op..]);
        uint vdevId = BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuVdeviceTsmReqOpArch.VdeviceId..]);
        if (!TsmOpNamespace.IsKnownArch(arch)) return Reject(ref u, vdevId, TsmRejection.UnknownArch);
        if (!TsmOpNamespace.IsValidFor(op, (TvmArch)arch)) return Reject(ref u, vdevId, TsmRejection.OpNotValidForArch);
        var vdev = u.Context.Get<Vdevice>(vdevId);
        if (vdev is null) return Errno.ENOENT.Neg();
        if (vdev.Viommu.Kvm is null) return Errno.ENODEV.Neg(); // a vDevice of the mock vIOMMU (no KVM, no PCI function): as TSM_OP
        if (vdev.Viommu.Kvm.Arch != (TvmArch)arch) return Count(ref u, vdev, TsmRejection.ArchNotVm, Errno.EINVAL.Neg());

        var request = new TsmGuestRequest
        {
            Profile = TsmAbiProfile.OpArch,
            Op = (TsmReqOp)op,
            Arch = (TvmArch)arch,
            Memory = u.Caller.UserMemory,
            ResponseUptr = BinaryPrimitives.ReadUInt64LittleEndian(u.Cmd[IommuVdeviceTsmReqOpArch.RespUptr..]),
            ResponseLength = BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuVdeviceTsmReqOpArch.RespLen..]),
            TsmCode = 0,
        };
        int rc = u.Context.Kernel.Tsm.GuestRequest(vdev.Function, ref request,
            BinaryPrimitives.ReadUInt64LittleEndian(u.Cmd[IommuVdeviceTsmReqOpArch.ReqUptr..]), BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuVdeviceTsmReqOpArch.ReqLen..]), out var why);
        Count(ref u, vdev, why, rc);

        BinaryPrimitives.WriteUInt64LittleEndian(u.Cmd[IommuVdeviceTsmReqOpArch.TsmCode..], request.TsmCode);
        if (u.Respond(IommuVdeviceTsmReqOpArch.SizeOf) < 0)
        {
            if (request.StateChanged) vdev.CountUncertainCompletion();
            return Errno.EFAULT.Neg();
        }
        return rc;
    }

    /// <summary>
    /// IOMMU_VDEVICE_TSM_REQ, scope profile (K5): __reserved EOPNOTSUPP; scope above PCI_LAST
    /// EINVAL; vdevice ENOENT; TsmLab: a VM that is not confidential EINVAL; then the TSM core
    /// (DEBUG scopes EINVAL, classification against the declared scope); no copy-back.
    /// </summary>
    public static int TsmReqScope(ref IommufdUcmd u)
    {
        uint vdevId = BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuVdeviceTsmReqScope.VdeviceId..]);
        if (BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuVdeviceTsmReqScope.Reserved..]) != 0) return Reject(ref u, vdevId, TsmRejection.ReservedNotZero, Errno.EOPNOTSUPP);
        uint scope = BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuVdeviceTsmReqScope.Scope..]);
        if (scope > IommuVdeviceTsmReqScope.ScopeLast) return Reject(ref u, vdevId, TsmRejection.ScopeOutOfRange);
        var vdev = u.Context.Get<Vdevice>(vdevId);
        if (vdev is null) return Errno.ENOENT.Neg();
        if (vdev.Viommu.Kvm is null) return Errno.ENODEV.Neg(); // a vDevice of the mock vIOMMU (no KVM, no PCI function): as TSM_OP
        var arch = vdev.Viommu.Kvm.Arch;
        if (arch == TvmArch.None) return Count(ref u, vdev, TsmRejection.ArchNotVm, Errno.EINVAL.Neg());
        var request = new TsmGuestRequest
        {
            Profile = TsmAbiProfile.Scope,
            Scope = (TsmReqScope)scope,
            Arch = arch,
            Memory = u.Caller.UserMemory,
            ResponseUptr = BinaryPrimitives.ReadUInt64LittleEndian(u.Cmd[IommuVdeviceTsmReqScope.RespUptr..]),
            ResponseLength = BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuVdeviceTsmReqScope.RespLen..]),
        };
        int rc = u.Context.Kernel.Tsm.GuestRequest(vdev.Function, ref request,
            BinaryPrimitives.ReadUInt64LittleEndian(u.Cmd[IommuVdeviceTsmReqScope.ReqUptr..]), BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuVdeviceTsmReqScope.ReqLen..]), out var why);
        Count(ref u, vdev, why, rc);
        return rc;
    }

    /// <summary>
    /// IOMMU_VDEVICE_TSM_INFO (TsmLab extension, docs/abi.md): flags EOPNOTSUPP; vdevice
    /// ENOENT; then the TSM index, the VM's architecture, the bus, TDI state, flags, the ops
    /// that would pass the envelope checks for this vDevice, the TSM's payload maxima, the
    /// scopes accepted and the rejection count; copied back (EFAULT).
    /// </summary>
    public static int TsmInfo(ref IommufdUcmd u)
    {
        if (BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuVdeviceTsmInfo.Flags..]) != 0) return Errno.EOPNOTSUPP.Neg();
        var vdev = u.Context.Get<Vdevice>(BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuVdeviceTsmInfo.VdeviceId..]));
        if (vdev is null) return Errno.ENOENT.Neg();
        if (vdev.Viommu.Kvm is null) return Errno.ENODEV.Neg(); // a vDevice of the mock vIOMMU (no KVM, no PCI function): as TSM_OP
        var kernel = u.Context.Kernel;
        var fn = vdev.Function;
        var tsm = fn.ConnectedTsm;
        var vmArch = vdev.Viommu.Kvm.Arch;
        bool scopeProfile = u.Context.Table.Profile == TsmAbiProfile.Scope;
        bool served = tsm is not null && tsm.Platform.Arch == vmArch;

        uint flags = 0;
        if (tsm is not null) flags |= IommuVdeviceTsmInfo.FlagConnected;
        if (vdev.TsmBound) flags |= IommuVdeviceTsmInfo.FlagBound;
        if (vdev.UncertainCompletions > 0) flags |= IommuVdeviceTsmInfo.FlagUncertainCompletion;
        if (scopeProfile) flags |= IommuVdeviceTsmInfo.FlagScopeProfile;

        ulong ops = 0;
        uint scopes = 0;
        if (served)
        {
            foreach (var d in tsm!.Platform.Ops)
            {
                if (scopeProfile) { if (d.Class <= TsmReqClass.StateChange) scopes |= 1u << (int)d.Class; }
                else if (TsmOpNamespace.IsValidFor((uint)d.Op, vmArch)) ops |= 1ul << (int)d.Op;
            }
        }

        BinaryPrimitives.WriteUInt32LittleEndian(u.Cmd[IommuVdeviceTsmInfo.OutTsmId..], tsm is null ? IommuVdeviceTsmInfo.NoTsm : (uint)tsm.Id);
        BinaryPrimitives.WriteUInt32LittleEndian(u.Cmd[IommuVdeviceTsmInfo.OutTvmArch..], (uint)vmArch);
        BinaryPrimitives.WriteUInt32LittleEndian(u.Cmd[IommuVdeviceTsmInfo.OutBus..], IommuVdeviceTsmInfo.BusPci);
        BinaryPrimitives.WriteUInt32LittleEndian(u.Cmd[IommuVdeviceTsmInfo.OutTdiState..], vdev.TsmBound ? (uint)kernel.Tsm.StateOf(fn) : (uint)TdiState.ConfigUnlocked);
        BinaryPrimitives.WriteUInt32LittleEndian(u.Cmd[IommuVdeviceTsmInfo.OutFlags..], flags);
        BinaryPrimitives.WriteUInt64LittleEndian(u.Cmd[IommuVdeviceTsmInfo.OutSupportedOps..], ops);
        BinaryPrimitives.WriteUInt32LittleEndian(u.Cmd[IommuVdeviceTsmInfo.OutMaxReqLen..], served ? (uint)tsm!.Platform.MaxRequestLength : 0);
        BinaryPrimitives.WriteUInt32LittleEndian(u.Cmd[IommuVdeviceTsmInfo.OutMaxRespLen..], served ? (uint)tsm!.Platform.MaxResponseLength : 0);
        BinaryPrimitives.WriteUInt32LittleEndian(u.Cmd[IommuVdeviceTsmInfo.OutScopeMask..], scopes);
        BinaryPrimitives.WriteUInt32LittleEndian(u.Cmd[IommuVdeviceTsmInfo.OutRejections..], (uint)Math.Min(vdev.TotalRejections, uint.MaxValue));
        return u.Respond(IommuVdeviceTsmInfo.SizeOf);
    }

    /// <summary>A refusal decided before the vDevice lookup: counted on the vDevice if the id names one.</summary>
    private static int Reject(ref IommufdUcmd u, uint vdevId, TsmRejection why, Errno errno = Errno.EINVAL) =>
        Count(ref u, u.Context.Get<Vdevice>(vdevId), why, errno.Neg());

    /// <summary>Counts a refusal on the vDevice (when there is one) and traces it; returns <paramref name="rc"/>.</summary>
    private static int Count(ref IommufdUcmd u, Vdevice? vdev, TsmRejection why, int rc)
    {
        if (why == TsmRejection.None) return rc;
        vdev?.CountRejection(why);
        u.Context.Kernel.Trace?.Record(Tracing.TraceLayer.Kernel, Tracing.TraceLayer.Kernel, Tracing.TraceKind.Rejection, why.ToString(),
            $"{rc} {ErrnoNames.NameOf(rc)}", new Tracing.TraceField("vdevice_id", vdev is null ? "none" : vdev.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        return rc;
    }
}
