using TsmLab.Abi;
using TsmLab.Kernel;
using TsmLab.Kernel.Pci;
using TsmLab.Platforms.Cca.Guest;
using TsmLab.Platforms.Cca.HostDriver;
using TsmLab.Platforms.Cca.Kvm;
using TsmLab.Platforms.Cca.Vmm;
using TsmLab.Tdisp.Device;
using TsmLab.Vmm;

namespace TsmLab.Platforms.Cca;

/// <summary>
/// One realm with an assigned device on a booted <c>cca</c> host, wired the way the machine is:
/// a VMM process that ran the assignment sequence (KVM realm VM, VFIO, IOAS, HWPT, vIOMMU,
/// vDevice) and handles exits with <see cref="CcaVmm"/>; guest RAM and a kvm_run page in the
/// VMM's memory; a realm vCPU (KVM + RMM); and the guest's TSM driver. Nothing is bound: the
/// guest's lock makes the VMM bind. Used by the tests and the end-to-end flow.
/// </summary>
public sealed class CcaRealmSession
{
    /// <summary>The guest's view of the device (guest RID 0x18 = 00:03.0).</summary>
    public static readonly PciAddress GuestAddress = new(0, 0, 3, 0);
    public const ulong GuestRamHva = 0x7e00_0000_0000, GuestRamSize = 16 << 20, KvmRunHva = 0x7d00_0000_0000;

    private CcaRealmSession(HostKernel kernel, DeviceAssignment assignment, GuestRam ram, CcaVmm vmm, RealmVcpu vcpu, RealmTsmGuest guest)
    {
        Kernel = kernel;
        Assignment = assignment;
        Ram = ram;
        Vmm = vmm;
        Vcpu = vcpu;
        Guest = guest;
    }

    public HostKernel Kernel { get; }
    public DeviceAssignment Assignment { get; }
    public GuestRam Ram { get; }
    public CcaVmm Vmm { get; }
    public RealmVcpu Vcpu { get; }
    public RealmTsmGuest Guest { get; }
    public CcaLinkTsm Link => CcaHost.LinkTsmOf(Kernel)!;
    /// <summary>The device behind vfio0 (for observing TDISP state in tests; nothing here drives it).</summary>
    public DeviceSecurityManager Device => CcaHost.DeviceOf(Kernel)?.Dsm ?? throw new InvalidOperationException("host has no TDISP device");

    /// <summary>
    /// Boots a <c>cca</c> host (or <paramref name="config"/>) and runs the VMM's sequence up to
    /// TSM_INFO. <paramref name="onBoot"/> sees the kernel before its devices and connects (to attach a trace or a DOE capture).
    /// </summary>
    public static CcaRealmSession Start(TsmAbiProfile profile = TsmAbiProfile.OpArch, HostConfiguration? config = null, int longCallTicks = 1, Action<HostKernel>? onBoot = null) =>
        TryStart(profile, config, longCallTicks, onBoot, out _, out var a)
        ?? throw new InvalidOperationException("assignment failed: " + a.Steps[^1].Call + " " + a.Steps[^1].ResultText);

    /// <summary>As <see cref="Start"/>, but a failed assignment sequence gives null with the kernel and the sequence's answers.</summary>
    public static CcaRealmSession? TryStart(TsmAbiProfile profile, HostConfiguration? config, int longCallTicks, Action<HostKernel>? onBoot,
        out HostKernel kernel, out DeviceAssignment a)
    {
        kernel = HostKernel.Boot(config ?? CcaHost.Configuration(profile), onBoot);
        var process = kernel.CreateProcess();
        var ram = new GuestRam(process, GuestRamHva, GuestRamSize);
        a = new DeviceAssignment(process, new AssignmentPlan("/dev/vfio/devices/vfio0", KvmVmType.ArmRealm,
            IommuViommuAlloc.TypeArmRealmSmmuV3OrAmd, GuestAddress), ram);
        if (!a.Prepare()) return null;
        process.Memory.Map(KvmRunHva, AddressSpace.PageSize, Prot.ReadWrite);
        var vmm = new CcaVmm(a.Calls, a.IommuFd, ram, kernel.Configuration.Profile, longCallTicks);
        vmm.AddDevice(GuestAddress.GuestRid, a.VdeviceId);
        _ = CcaHost.LinkTsmOf(kernel) ?? throw new InvalidOperationException("host has no CCA link TSM");
        var vcpu = new RealmVcpu(kernel, kernel.Vms.Last(), process, KvmRunHva, new GuestRamRealmMemory(ram), vmm);
        var guest = new RealmTsmGuest(vcpu, ram, GuestAddress.GuestRid);
        return new CcaRealmSession(kernel, a, ram, vmm, vcpu, guest);
    }
}
