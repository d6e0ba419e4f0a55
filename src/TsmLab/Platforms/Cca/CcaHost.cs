using TsmLab.Abi;
using TsmLab.Kernel;
using TsmLab.Platforms.Cca.HostDriver;
using TsmLab.Platforms.Cca.Firmware;
using TsmLab.Tdisp.Device;

namespace TsmLab.Platforms.Cca;

/// <summary>
/// The built-in <c>cca</c> host: arm64 with an RMM (KVM_VM_TYPE_ARM_REALM available), Arm
/// SMMUv3 with the realm extension, the default TDISP device (PF0 0000:01:00.0 and four VFs,
/// reached by the RMM through the host-relayed DOE mailbox), the CCA link TSM as <c>tsm0</c>,
/// and PF0 connected to it at boot (which programs the IDE keys).
/// </summary>
public static class CcaHost
{
    public const string Name = "cca";


    /// <summary>Where the arm64 machine's DRAM allocator starts.</summary>
    public const ulong DramBase = 0x8_8000_0000;

    /// <summary>A fresh configuration (a new device, a new RMM) each time.</summary>
    public static HostConfiguration Configuration() => Configuration(TsmAbiProfile.OpArch);

    /// <summary>The configuration in a given profile, with optional RMM choices and device entropy.</summary>
    public static HostConfiguration Configuration(TsmAbiProfile profile, RmmOptions? rmm = null, ITdispEntropySource? entropy = null) =>
        Configuration(profile, TdispPciDevice.CreateDefault(entropy), rmm);

    /// <summary>The configuration with <paramref name="device"/> plugged in and connected at boot.</summary>
    public static HostConfiguration Configuration(TsmAbiProfile profile, TdispPciDevice device, RmmOptions? rmm = null) => new()
    {
        Name = Name,
        Description = "arm64, RMM, Arm SMMUv3 (realm), the default TDISP device, the CCA link TSM connected at boot",
        Arch = HostArch.Arm64,
        VmTypes = [new ConfidentialVmType(KvmVmType.ArmRealm, TvmArch.Cca)],
        Iommu = HostIommu.ArmSmmuV3Realm,
        Profile = profile,
        Functions = device.Functions,
        Devices = [device],
        DramBase = DramBase,
        Firmware = memory => new CcaRmm(memory, rmm),
        Tsms = [new TsmSpec("arm-cca-host", (k, _) => new CcaLinkTsm(k))],
        Connects = [(device.Functions[0].Address, "tsm0")],
    };

    /// <summary>The CCA link TSM a booted <c>cca</c> host registered (for wiring realm vCPUs), or null.</summary>
    public static CcaLinkTsm? LinkTsmOf(HostKernel kernel) =>
        kernel.Tsm.Devices.Select(d => d.Platform).OfType<CcaLinkTsm>().FirstOrDefault();

    /// <summary>The TDISP device plugged into a booted host (observation only).</summary>
    public static TdispPciDevice? DeviceOf(HostKernel kernel) => kernel.Machine.Devices.OfType<TdispPciDevice>().FirstOrDefault();
}
