using TsmLab.Abi;
using TsmLab.Hosts;
using TsmLab.Kernel;
using TsmLab.Platforms.Cca.HostDriver;
using TsmLab.Platforms.Cca.Rmm;
using TsmLab.Tdisp.Device;

namespace TsmLab.Platforms.Cca;

/// <summary>
/// The built-in <c>cca</c> host: arm64 with an RMM (KVM_VM_TYPE_ARM_REALM available), Arm
/// SMMUv3 with the realm extension, the default TDISP device (PF0 0000:01:00.0 and four VFs, one
/// device model behind all of them, reached by the RMM through DOE), the CCA link TSM as
/// <c>tsm0</c>, and PF0 connected to it at boot (which programs the IDE keys).
/// </summary>
public static class CcaHost
{
    public const string Name = "cca";

    /// <summary>A fresh configuration (a new device, a new RMM) each time.</summary>
    public static HostConfiguration Configuration() => Configuration(TsmAbiProfile.OpArch);

    /// <summary>The configuration in a given profile, with optional RMM choices and device entropy.</summary>
    public static HostConfiguration Configuration(TsmAbiProfile profile, RmmOptions? rmm = null, ITdispEntropySource? entropy = null)
    {
        var device = DeviceSecurityManager.CreateDefault(entropy);
        var functions = BuiltInHosts.DefaultDeviceFunctions().Select(f => f with { DeviceModel = device }).ToList();
        return new HostConfiguration
        {
            Name = Name,
            Description = "arm64, RMM, Arm SMMUv3 (realm), the default TDISP device, the CCA link TSM connected at boot",
            Arch = HostArch.Arm64,
            Rmm = true,
            Iommu = HostIommu.ArmSmmuV3Realm,
            Profile = profile,
            Functions = functions,
            Tsms = [new TsmSpec("arm-cca-host", k => new CcaLinkTsm(k, rmm))],
            Connects = [(functions[0].Address, "tsm0")],
        };
    }

    /// <summary>The CCA link TSM a booted <c>cca</c> host registered (for wiring realm vCPUs), or null.</summary>
    public static CcaLinkTsm? LinkTsmOf(HostKernel kernel) =>
        kernel.Tsm.Devices.Select(d => d.Platform).OfType<CcaLinkTsm>().FirstOrDefault();
}
