using TsmLab.Abi;
using TsmLab.Kernel;
using TsmLab.Kernel.Pci;
using TsmLab.Platforms.SevTio.HostDriver;
using TsmLab.Platforms.SevTio.Firmware;
using TsmLab.Tdisp.Device;

namespace TsmLab.Platforms.SevTio;

/// <summary>
/// The built-in host <c>sev</c>: one x86-64 AMD machine with SEV-SNP and its PSP running SEV-TIO
/// firmware, the AMD IOMMU, the default TDISP device (its DSM reached by the PSP through the
/// host-relayed DOE mailbox), the PSP's link TSM registered as tsm0 and connected to the device's
/// PF0 at boot. Profile op-arch.
/// </summary>
public static class SevTioHost
{
    /// <summary>PF0 of the default device.</summary>
    public static readonly PciAddress DevicePf = new(0, 1, 0, 0);


    public static HostConfiguration Configuration() => Configuration(TdispPciDevice.CreateDefault());

    /// <summary>The configuration with <paramref name="device"/> plugged in and connected at boot.</summary>
    public static HostConfiguration Configuration(TdispPciDevice device, byte[]? pspSeed = null) => new()
    {
        Name = "sev",
        Description = "x86-64, SEV-SNP with SEV-TIO, AMD IOMMU, the default TDISP device, the PSP link TSM (tsm0) connected",
        Arch = HostArch.X86_64,
        VmTypes = [new ConfidentialVmType(KvmVmType.X86SnpVm, TvmArch.Sev)],
        Iommu = HostIommu.AmdVi,
        Profile = TsmAbiProfile.OpArch,
        Functions = device.Functions,
        Devices = [device],
        Firmware = memory => new PspFirmware(memory, seed: pspSeed),
        Tsms = [new TsmSpec("0000:00:18.1 (PSP)", (k, _) => new SevTioLinkTsm(k))],
        Connects = [(device.Functions[0].Address, "tsm0")],
    };

    /// <summary>The TDISP device plugged into a booted host (observation only).</summary>
    public static TdispPciDevice? DeviceOf(HostKernel kernel) => kernel.Machine.Devices.OfType<TdispPciDevice>().FirstOrDefault();
}
