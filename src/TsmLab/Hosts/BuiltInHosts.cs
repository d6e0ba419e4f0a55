using TsmLab.Abi;
using TsmLab.Kernel;
using TsmLab.Platforms;
using TsmLab.Samples.Devsec;
using TsmLab.Tdisp.Device;

namespace TsmLab.Hosts;

/// <summary>
/// The hosts TsmLab ships, by name: <c>default</c>, an x86-64 host with SEV-SNP and the default
/// TDISP device (PF0 at 0000:01:00.0 and four VFs, all vfio-owned) but no platform TSM, so the
/// whole assignment sequence runs and a TSM request ends in ENXIO, as on a Linux host whose
/// firmware has no TSM; <c>selftest</c>, the same on a kernel with CONFIG_IOMMUFD_TEST; then every registered platform's hosts (<see cref="PlatformRegistry"/>);
/// then, for each platform's first host NAME, NAME-devsec: the same host with Linux's
/// <c>samples/devsec</c> test TSM and its device added (<see cref="DevsecBus"/>), two TSMs on one host.
/// </summary>
public static class BuiltInHosts
{
    /// <summary>The host the kernel's iommufd selftests run on: the default host with CONFIG_IOMMUFD_TEST.</summary>
    public const string SelftestHost = "selftest";

    /// <summary>The names of the built-in hosts, default first.</summary>
    public static IReadOnlyList<string> Names =>
    [
        "default",
        SelftestHost,
        .. PlatformRegistry.All.SelectMany(p => p.Hosts).Select(h => h.Name),
        .. PlatformRegistry.All.Where(p => p.Hosts.Count > 0).Select(p => p.Hosts[0].Name + DevsecBus.HostSuffix),
    ];

    /// <summary>The configuration of a built-in host in its default profile, or null for an unknown name.</summary>
    public static HostConfiguration? Find(string name) => Find(name, TsmAbiProfile.OpArch);

    /// <summary>The configuration of a built-in host in <paramref name="profile"/>, or null for an unknown name.</summary>
    public static HostConfiguration? Find(string name, TsmAbiProfile profile)
    {
        if (name == "default") return Default() with { Profile = profile };
        if (name == SelftestHost) return Default() with
        {
            Name = SelftestHost,
            Description = "the default host on a kernel built with CONFIG_IOMMUFD_TEST: /dev/iommu also serves IOMMU_TEST_CMD for the kernel's iommufd selftests (docs/selftests.md)",
            IommufdSelftest = true,
            Profile = profile,
        };
        foreach (var p in PlatformRegistry.All)
            foreach (var h in p.Hosts)
                if (h.Name == name) return h.Configuration(profile);
        foreach (var p in PlatformRegistry.All)
            if (p.Hosts.Count > 0 && name == p.Hosts[0].Name + DevsecBus.HostSuffix)
                return DevsecBus.With(p.Hosts[0].Configuration(profile));
        return null;
    }

    /// <summary>The PCI functions of the default TDISP device (docs/tdisp.md): PF0 (the DSM) and its VFs.</summary>
    public static IReadOnlyList<PciFunctionSpec> DefaultDeviceFunctions(int iommu = 0) => FunctionsOf(DeviceConfiguration.Default, iommu);

    /// <summary>
    /// The PCI functions a TDISP device configuration describes, without the device behind them:
    /// its PF, then each VF at RID = PF RID + First VF Offset + n * VF Stride (PCIe SR-IOV), all
    /// TDISP-capable, vfio-owned, with the PF as their DSM.
    /// </summary>
    public static IReadOnlyList<PciFunctionSpec> FunctionsOf(DeviceConfiguration device, int iommu = 0) =>
        [.. new TdispPciDevice(device).Functions.Select(f => new PciFunctionSpec(f.Address, f.VendorId, f.DeviceId, f.TeeCapable, f.Dsm, Iommu: iommu))];

    private static HostConfiguration Default()
    {
        var device = TdispPciDevice.CreateDefault();
        return new()
        {
            Name = "default",
            Description = "x86-64, SEV-SNP, AMD IOMMU, the default TDISP device, no platform TSM",
            Arch = HostArch.X86_64,
            VmTypes = [new ConfidentialVmType(KvmVmType.X86SnpVm, TvmArch.Sev)],
            Iommu = HostIommu.AmdVi,
            Profile = TsmAbiProfile.OpArch,
            Functions = device.Functions,
            Devices = [device],
        };
    }
}
