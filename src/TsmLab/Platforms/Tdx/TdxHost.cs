using TsmLab.Abi;
using TsmLab.Kernel;
using TsmLab.Kernel.Pci;
using TsmLab.Platforms.Tdx.Firmware;
using TsmLab.Platforms.Tdx.HostDriver;
using TsmLab.Tdisp.Device;

namespace TsmLab.Platforms.Tdx;

/// <summary>
/// The built-in host <c>tdx</c>: one x86-64 Intel machine with TDX and the TDX Connect extension,
/// VT-d (two DRHDs, one without TDX mode), the default TDISP device (its DSM reached by the module
/// only through the host's DOE relay), the <c>tdx-host</c> link TSM registered as tsm0 and
/// connected to the device's PF0 at boot. Profile op-arch.
/// </summary>
public static class TdxHost
{
    /// <summary>PF0 of the default device.</summary>
    public static readonly PciAddress DevicePf = new(0, 1, 0, 0);

    public static HostConfiguration Configuration() => Configuration(TdispPciDevice.CreateDefault());

    /// <summary>The configuration with <paramref name="device"/> plugged in and connected at boot, the module built with <paramref name="options"/>.</summary>
    public static HostConfiguration Configuration(TdispPciDevice device, TdxModuleOptions? options = null) => new()
    {
        Name = "tdx",
        Description = "x86-64, TDX with TDX Connect, Intel VT-d, the default TDISP device, the tdx-host link TSM (tsm0) connected",
        Arch = HostArch.X86_64,
        VmTypes = [new ConfidentialVmType(KvmVmType.X86TdxVm, TvmArch.Tdx)],
        Iommu = VtdIommu.IntelVtd,
        Profile = TsmAbiProfile.OpArch,
        Functions = device.Functions,
        Devices = [device],
        Firmware = memory => new TdxModule(memory, VtdIommu.DefaultDrhds, options),
        Tsms = [new TsmSpec("tdx_host (faux device)", (k, _) => new TdxLinkTsm(k))],
        Connects = [(device.Functions[0].Address, "tsm0")],
    };

    /// <summary>The TDISP device plugged into a booted host (observation only).</summary>
    public static TdispPciDevice? DeviceOf(HostKernel kernel) => kernel.Machine.Devices.OfType<TdispPciDevice>().FirstOrDefault();
}
