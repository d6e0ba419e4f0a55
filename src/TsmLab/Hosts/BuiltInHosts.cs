using TsmLab.Abi;
using TsmLab.Kernel;
using TsmLab.Kernel.Pci;

namespace TsmLab.Hosts;

/// <summary>
/// The hosts TsmLab ships, by name. <c>default</c> is an x86-64 host with SEV-SNP and the
/// default TDISP device (PF0 at 0000:01:00.0 and two VFs, all vfio-owned) but no platform
/// TSM: the whole assignment sequence runs, and a TSM request ends in ENXIO, as on a Linux host
/// whose firmware has no TSM. Platforms add their own hosts here.
/// </summary>
public static class BuiltInHosts
{
    private static readonly Dictionary<string, Func<HostConfiguration>> Hosts = new(StringComparer.Ordinal)
    {
        ["default"] = Default,
    };

    /// <summary>The names of the built-in hosts, default first.</summary>
    public static IReadOnlyList<string> Names => Hosts.Keys.ToList();

    /// <summary>The configuration of a built-in host, or null for an unknown name.</summary>
    public static HostConfiguration? Find(string name) => Hosts.TryGetValue(name, out var make) ? make() : null;

    /// <summary>Registers a further built-in host (platform folders do this).</summary>
    internal static void Add(string name, Func<HostConfiguration> make) => Hosts[name] = make;

    /// <summary>The PCI functions of the default TDISP device: PF0 (the DSM) and its VFs.</summary>
    public static IReadOnlyList<PciFunctionSpec> DefaultDeviceFunctions(int iommu = 0)
    {
        var pf = new PciAddress(0, 1, 0, 0);
        return
        [
            new PciFunctionSpec(pf, 0x1AF4, 0x7D00, TeeCapable: true, Iommu: iommu),
            new PciFunctionSpec(new PciAddress(0, 1, 0, 1), 0x1AF4, 0x7D01, TeeCapable: true, Dsm: pf, Iommu: iommu),
            new PciFunctionSpec(new PciAddress(0, 1, 0, 2), 0x1AF4, 0x7D01, TeeCapable: true, Dsm: pf, Iommu: iommu),
        ];
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
