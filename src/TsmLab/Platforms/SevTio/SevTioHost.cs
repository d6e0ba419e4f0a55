// The built-in host `sev`: one x86-64 AMD machine with SEV-SNP, the AMD IOMMU, the default TDISP
// device (its DSM model attached to every function so the PSP reaches it through DOE), the PSP's
// link TSM registered as tsm0 and connected to the device's PF0 at boot. Profile op-arch.
using TsmLab.Abi;
using TsmLab.Hosts;
using TsmLab.Kernel;
using TsmLab.Kernel.Pci;
using TsmLab.Platforms.SevTio.HostDriver;
using TsmLab.Tdisp.Device;

namespace TsmLab.Platforms.SevTio;

/// <summary>The configuration of the built-in <c>sev</c> host.</summary>
public static class SevTioHost
{
    /// <summary>PF0 of the default device.</summary>
    public static readonly PciAddress DevicePf = new(0, 1, 0, 0);

    public static HostConfiguration Configuration()
    {
        var dsm = DeviceSecurityManager.CreateDefault();
        return new HostConfiguration
        {
            Name = "sev",
            Description = "x86-64, SEV-SNP with SEV-TIO, AMD IOMMU, the default TDISP device, the PSP link TSM (tsm0) connected",
            Arch = HostArch.X86_64,
            SevSnp = true,
            Iommu = HostIommu.AmdVi,
            Profile = TsmAbiProfile.OpArch,
            Functions = [.. BuiltInHosts.DefaultDeviceFunctions().Select(f => f with { DeviceModel = dsm })],
            Tsms = [new TsmSpec("0000:00:18.1 (PSP)", k => new SevTioLinkTsm(k))],
            Connects = [(DevicePf, "tsm0")],
        };
    }
}
