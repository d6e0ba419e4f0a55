namespace TsmLab.Platforms.Cca.Abi;

/// <summary>Names of the RMI, RSI and RHI function ids, for traces (the numbers are in Rmi.cs, Rsi.cs, Rhi.cs).</summary>
public static class CcaCallNames
{
    public static string Of(ulong fid) => fid switch
    {
        Rmi.RealmCreate => "RMI_REALM_CREATE",
        Rmi.RecCreate => "RMI_REC_CREATE",
        Rmi.RecEnter => "RMI_REC_ENTER",
        Rmi.RttDevValidate => "RMI_RTT_DEV_VALIDATE",
        Rmi.PdevAbort => "RMI_PDEV_ABORT",
        Rmi.PdevCommunicate => "RMI_PDEV_COMMUNICATE",
        Rmi.PdevCreate => "RMI_PDEV_CREATE",
        Rmi.PdevDestroy => "RMI_PDEV_DESTROY",
        Rmi.PdevGetState => "RMI_PDEV_GET_STATE",
        Rmi.PdevStop => "RMI_PDEV_STOP",
        Rmi.VdevAbort => "RMI_VDEV_ABORT",
        Rmi.VdevCommunicate => "RMI_VDEV_COMMUNICATE",
        Rmi.VdevCreate => "RMI_VDEV_CREATE",
        Rmi.VdevDestroy => "RMI_VDEV_DESTROY",
        Rmi.VdevGetState => "RMI_VDEV_GET_STATE",
        Rmi.VdevUnlock => "RMI_VDEV_UNLOCK",
        Rmi.VdevGetInterfaceReport => "RMI_VDEV_GET_INTERFACE_REPORT",
        Rmi.VdevGetMeasurements => "RMI_VDEV_GET_MEASUREMENTS",
        Rmi.VdevLock => "RMI_VDEV_LOCK",
        Rmi.VdevStart => "RMI_VDEV_START",
        Rmi.RttDevMap => "RMI_RTT_DEV_MAP",
        Rmi.RttDevUnmap => "RMI_RTT_DEV_UNMAP",
        Rsi.HostCall => "RSI_HOST_CALL",
        Rsi.VdevDmaEnable => "RSI_VDEV_DMA_ENABLE",
        Rsi.VdevGetInfo => "RSI_VDEV_GET_INFO",
        Rsi.VdevValidateMapping => "RSI_VDEV_VALIDATE_MAPPING",
        Rsi.VdevDmaDisable => "RSI_VDEV_DMA_DISABLE",
        Rhi.DaFeatures => "RHI_DA_FEATURES",
        Rhi.DaObjectSize => "RHI_DA_OBJECT_SIZE",
        Rhi.DaObjectRead => "RHI_DA_OBJECT_READ",
        Rhi.HostconfVersion => "RHI_HOSTCONF_VERSION",
        Rhi.HostconfFeatures => "RHI_HOSTCONF_FEATURES",
        Rhi.HostconfIpaChangeAlignment => "RHI_HOSTCONF_GET_IPA_CHANGE_ALIGNMENT",
        Rhi.DaVdevContinue => "RHI_DA_VDEV_CONTINUE",
        Rhi.DaVdevGetMeasurements => "RHI_DA_VDEV_GET_MEASUREMENTS",
        Rhi.DaVdevGetInterfaceReport => "RHI_DA_VDEV_GET_INTERFACE_REPORT",
        Rhi.DaVdevSetTdiState => "RHI_DA_VDEV_SET_TDI_STATE",
        Rhi.DaVdevAbort => "RHI_DA_VDEV_ABORT",
        _ => $"0x{fid:x}",
    };
}
