namespace TsmLab.Platforms.Cca.Abi;

/// <summary>The interface a CCA call belongs to: the host's RMI SMCs, the realm's RSI SMCs, the realm-host RHI calls.</summary>
public enum CcaInterface
{
    Rmi,
    Rsi,
    Rhi,
}

/// <summary>One CCA call: interface, name as the public headers spell it, function id (the numbers are in Rmi.cs, Rsi.cs, Rhi.cs).</summary>
public sealed record CcaCall(CcaInterface Interface, string Name, ulong Fid);

/// <summary>Every RMI, RSI and RHI call the model knows, one row each: the traces and the RMM's and VMM's dispatch tables name calls from here.</summary>
public static class CcaCalls
{
    public static IReadOnlyList<CcaCall> All { get; } =
    [
        new(CcaInterface.Rmi, "RMI_REALM_CREATE", Rmi.RealmCreate),
        new(CcaInterface.Rmi, "RMI_REC_CREATE", Rmi.RecCreate),
        new(CcaInterface.Rmi, "RMI_REC_ENTER", Rmi.RecEnter),
        new(CcaInterface.Rmi, "RMI_RTT_DEV_VALIDATE", Rmi.RttDevValidate),
        new(CcaInterface.Rmi, "RMI_PDEV_ABORT", Rmi.PdevAbort),
        new(CcaInterface.Rmi, "RMI_PDEV_COMMUNICATE", Rmi.PdevCommunicate),
        new(CcaInterface.Rmi, "RMI_PDEV_CREATE", Rmi.PdevCreate),
        new(CcaInterface.Rmi, "RMI_PDEV_DESTROY", Rmi.PdevDestroy),
        new(CcaInterface.Rmi, "RMI_PDEV_GET_STATE", Rmi.PdevGetState),
        new(CcaInterface.Rmi, "RMI_PDEV_SET_PUBKEY", Rmi.PdevSetPubkey),
        new(CcaInterface.Rmi, "RMI_PDEV_STOP", Rmi.PdevStop),
        new(CcaInterface.Rmi, "RMI_VDEV_ABORT", Rmi.VdevAbort),
        new(CcaInterface.Rmi, "RMI_VDEV_COMMUNICATE", Rmi.VdevCommunicate),
        new(CcaInterface.Rmi, "RMI_VDEV_CREATE", Rmi.VdevCreate),
        new(CcaInterface.Rmi, "RMI_VDEV_DESTROY", Rmi.VdevDestroy),
        new(CcaInterface.Rmi, "RMI_VDEV_GET_STATE", Rmi.VdevGetState),
        new(CcaInterface.Rmi, "RMI_VDEV_UNLOCK", Rmi.VdevUnlock),
        new(CcaInterface.Rmi, "RMI_VDEV_GET_INTERFACE_REPORT", Rmi.VdevGetInterfaceReport),
        new(CcaInterface.Rmi, "RMI_VDEV_GET_MEASUREMENTS", Rmi.VdevGetMeasurements),
        new(CcaInterface.Rmi, "RMI_VDEV_LOCK", Rmi.VdevLock),
        new(CcaInterface.Rmi, "RMI_VDEV_START", Rmi.VdevStart),
        new(CcaInterface.Rmi, "RMI_RTT_DEV_MAP", Rmi.RttDevMap),
        new(CcaInterface.Rmi, "RMI_RTT_DEV_UNMAP", Rmi.RttDevUnmap),
        new(CcaInterface.Rsi, "RSI_HOST_CALL", Rsi.HostCall),
        new(CcaInterface.Rsi, "RSI_VDEV_DMA_ENABLE", Rsi.VdevDmaEnable),
        new(CcaInterface.Rsi, "RSI_VDEV_GET_INFO", Rsi.VdevGetInfo),
        new(CcaInterface.Rsi, "RSI_VDEV_VALIDATE_MAPPING", Rsi.VdevValidateMapping),
        new(CcaInterface.Rsi, "RSI_VDEV_DMA_DISABLE", Rsi.VdevDmaDisable),
        new(CcaInterface.Rhi, "RHI_DA_FEATURES", Rhi.DaFeatures),
        new(CcaInterface.Rhi, "RHI_DA_OBJECT_SIZE", Rhi.DaObjectSize),
        new(CcaInterface.Rhi, "RHI_DA_OBJECT_READ", Rhi.DaObjectRead),
        new(CcaInterface.Rhi, "RHI_HOSTCONF_VERSION", Rhi.HostconfVersion),
        new(CcaInterface.Rhi, "RHI_HOSTCONF_FEATURES", Rhi.HostconfFeatures),
        new(CcaInterface.Rhi, "RHI_HOSTCONF_GET_IPA_CHANGE_ALIGNMENT", Rhi.HostconfIpaChangeAlignment),
        new(CcaInterface.Rhi, "RHI_DA_VDEV_CONTINUE", Rhi.DaVdevContinue),
        new(CcaInterface.Rhi, "RHI_DA_VDEV_GET_MEASUREMENTS", Rhi.DaVdevGetMeasurements),
        new(CcaInterface.Rhi, "RHI_DA_VDEV_GET_INTERFACE_REPORT", Rhi.DaVdevGetInterfaceReport),
        new(CcaInterface.Rhi, "RHI_DA_VDEV_SET_TDI_STATE", Rhi.DaVdevSetTdiState),
        new(CcaInterface.Rhi, "RHI_DA_VDEV_ABORT", Rhi.DaVdevAbort),
    ];

    private static readonly Dictionary<ulong, string> Names = All.ToDictionary(c => c.Fid, c => c.Name);

    /// <summary>The call's name, or its FID in hex for one the model does not know.</summary>
    public static string NameOf(ulong fid) => Names.TryGetValue(fid, out var n) ? n : $"0x{fid:x}";
}
