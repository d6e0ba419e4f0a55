using TsmLab.Abi;
using TsmLab.Kernel;
using TsmLab.Kernel.Pci;
using TsmLab.Tdisp.Device;

namespace TsmLab.Hosts;

/// <summary>
/// The hosts TsmLab ships, by name. <c>default</c> is an x86-64 host with SEV-SNP and the
/// default TDISP device (PF0 at 0000:01:00.0 and four VFs, all vfio-owned) but no platform
/// TSM: the whole assignment sequence runs, and a TSM request ends in ENXIO, as on a Linux host
/// whose firmware has no TSM. Platforms add their own hosts here.
/// </summary>
public static class BuiltInHosts
{
    private static readonly Dictionary<string, Func<HostConfiguration>> Hosts = new(StringComparer.Ordinal)
    {
        ["default"] = Default,
        ["cca"] = TsmLab.Platforms.Cca.CcaHost.Configuration,
        ["sev"] = TsmLab.Platforms.SevTio.SevTioHost.Configuration,
    };

    /// <summary>The names of the built-in hosts, default first.</summary>
    public static IReadOnlyList<string> Names => Hosts.Keys.ToList();

    /// <summary>The configuration of a built-in host, or null for an unknown name.</summary>
    public static HostConfiguration? Find(string name) => Hosts.TryGetValue(name, out var make) ? make() : null;

    /// <summary>Registers a further built-in host (platform folders do this).</summary>
    internal static void Add(string name, Func<HostConfiguration> make) => Hosts[name] = make;

    /// <summary>The PCI functions of the default TDISP device (docs/tdisp.md): PF0 (the DSM) and its VFs.</summary>
    public static IReadOnlyList<PciFunctionSpec> DefaultDeviceFunctions(int iommu = 0) => FunctionsOf(DeviceConfiguration.Default, iommu);

    /// <summary>
    /// The PCI functions a TDISP device configuration describes: its PF, then each VF at
    /// RID = PF RID + First VF Offset + n * VF Stride (PCIe SR-IOV), all TDISP-capable, vfio-owned,
    /// with the PF as their DSM.
    /// </summary>
    public static IReadOnlyList<PciFunctionSpec> FunctionsOf(DeviceConfiguration device, int iommu = 0)
    {
        var pf = new PciAddress(device.Segment, device.Bus, device.Device, device.Function);
        var list = new List<PciFunctionSpec> { new(pf, device.VendorId, device.DeviceId, TeeCapable: true, Iommu: iommu) };
        if (device.Sriov is { } sriov)
        {
            for (int n = 0; n < sriov.Count; n++)
            {
                int rid = device.Rid + sriov.FirstVfOffset + n * sriov.VfStride;
                var vf = new PciAddress(device.Segment, (byte)(rid >> 8), (byte)((rid >> 3) & 0x1F), (byte)(rid & 7));
                list.Add(new PciFunctionSpec(vf, device.VendorId, sriov.VfDeviceId, TeeCapable: true, Dsm: pf, Iommu: iommu));
            }
        }
        return list;
    }

    private static HostConfiguration Default() => new()
    {
        Name = "default",
        Description = "x86-64, SEV-SNP, AMD IOMMU, the default TDISP device, no platform TSM",
        Arch = HostArch.X86_64,
        SevSnp = true,
        Iommu = HostIommu.AmdVi,
        Profile = TsmAbiProfile.OpArch,
        Functions = DefaultDeviceFunctions(),
    };
}
