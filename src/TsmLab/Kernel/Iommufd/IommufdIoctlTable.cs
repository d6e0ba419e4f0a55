using TsmLab.Abi;

namespace TsmLab.Kernel.Iommufd;

/// <summary>One row of the iommufd ioctl table (<c>struct iommufd_ioctl_op</c>).</summary>
internal sealed record IommufdIoctlOp(uint Number, string Name, AbiStruct Struct, IommufdHandler Handler, string Source);

/// <summary>
/// The iommufd ioctl table (drivers/iommu/iommufd/main.c <c>iommufd_ioctl_ops</c>), indexed by
/// <c>_IOC_NR(cmd) - IOMMUFD_CMD_BASE</c>: number, struct (size and minimum size) and handler.
/// The TSM request row depends on the host's ABI profile. Empty rows answer ENOTTY.
/// </summary>
internal sealed class IommufdIoctlTable
{
    private static readonly IommufdIoctlTable OpArch = Build(TsmAbiProfile.OpArch, false);
    private static readonly IommufdIoctlTable Scope = Build(TsmAbiProfile.Scope, false);
    private static readonly IommufdIoctlTable OpArchSelftest = Build(TsmAbiProfile.OpArch, true);
    private static readonly IommufdIoctlTable ScopeSelftest = Build(TsmAbiProfile.Scope, true);

    private readonly IommufdIoctlOp?[] rows;

    private IommufdIoctlTable(TsmAbiProfile profile, IommufdIoctlOp?[] rows)
    {
        Profile = profile;
        this.rows = rows;
    }

    public TsmAbiProfile Profile { get; }

    public static IommufdIoctlTable For(TsmAbiProfile profile) => For(profile, false);

    /// <summary>The table of a profile; with <paramref name="selftest"/> (CONFIG_IOMMUFD_TEST) it has IOMMU_TEST_CMD too.</summary>
    public static IommufdIoctlTable For(TsmAbiProfile profile, bool selftest) =>
        profile == TsmAbiProfile.Scope ? (selftest ? ScopeSelftest : Scope) : (selftest ? OpArchSelftest : OpArch);

    /// <summary>Rows, by number.</summary>
    public IEnumerable<IommufdIoctlOp> Rows => rows.Where(r => r is not null)!;

    /// <summary>The row for nr, or null when nr is outside the table (the VFIO-compat path).</summary>
    public bool TryGetRow(uint nr, out IommufdIoctlOp? row)
    {
        row = null;
        uint index = nr - IommufdIoctl.CmdBase;
        if (nr < IommufdIoctl.CmdBase || index >= (uint)rows.Length) return false;
        row = rows[index];
        return true;
    }

    private static IommufdIoctlTable Build(TsmAbiProfile profile, bool selftest)
    {
        var handlers = new Dictionary<uint, IommufdHandler>
        {
            [IommufdIoctl.Destroy] = ObjectIoctls.Destroy,
            [IommufdIoctl.IoasAlloc] = ObjectIoctls.IoasAlloc,
            [IommufdIoctl.IoasAllowIovas] = IoasIoctls.AllowIovas,
            [IommufdIoctl.IoasCopy] = IoasIoctls.Copy,
            [IommufdIoctl.IoasIovaRanges] = IoasIoctls.IovaRanges,
            [IommufdIoctl.IoasMap] = IoasIoctls.Map,
            [IommufdIoctl.IoasUnmap] = IoasIoctls.Unmap,
            [IommufdIoctl.Option] = OptionIoctl.Option,
            [IommufdIoctl.VfioIoas] = VfioCompat.VfioIoas,
            [IommufdIoctl.HwptAlloc] = ObjectIoctls.HwptAlloc,
            [IommufdIoctl.GetHwInfo] = HwInfoIoctl.GetHwInfo,
            [IommufdIoctl.HwptSetDirtyTracking] = HwptIoctls.SetDirtyTracking,
            [IommufdIoctl.HwptGetDirtyBitmap] = HwptIoctls.GetDirtyBitmap,
            [IommufdIoctl.HwptInvalidate] = HwptIoctls.Invalidate,
            [IommufdIoctl.IoasMapFile] = IoasIoctls.MapFile,
            [IommufdIoctl.ViommuAlloc] = ObjectIoctls.ViommuAlloc,
            [IommufdIoctl.VdeviceAlloc] = ObjectIoctls.VdeviceAlloc,
            [IommufdIoctl.IoasChangeProcess] = IoasIoctls.ChangeProcess,
            [IommufdIoctl.FaultQueueAlloc] = EventQueueIoctls.FaultQueueAlloc,
            [IommufdIoctl.VeventqAlloc] = EventQueueIoctls.VeventqAlloc,
            [IommufdIoctl.HwQueueAlloc] = EventQueueIoctls.HwQueueAlloc,
            [IommufdIoctl.VdeviceTsmOp] = TsmIoctls.TsmOp,
            [IommufdIoctl.VdeviceTsmReq] = profile == TsmAbiProfile.Scope ? TsmIoctls.TsmReqScope : TsmIoctls.TsmReqOpArch,
            [IommufdIoctl.VdeviceTsmInfo] = TsmIoctls.TsmInfo,
            [IommuTestCmd.Number] = Selftest.TestCmd.Dispatch,
        };
        var list = AbiCatalog.Iommufd(profile).Concat(selftest ? AbiCatalog.IommufdSelftest : []).Select(i => new IommufdIoctlOp(i.Number, i.Name, i.Struct, handlers[i.Number], i.Source)).ToList();
        var rows = new IommufdIoctlOp?[list.Max(r => r.Number & 0xFF) - IommufdIoctl.CmdBase + 1];
        foreach (var r in list) rows[(r.Number & 0xFF) - IommufdIoctl.CmdBase] = r;
        return new IommufdIoctlTable(profile, rows);
    }
}
