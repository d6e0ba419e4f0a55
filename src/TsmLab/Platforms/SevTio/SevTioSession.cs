using TsmLab.Abi;
using TsmLab.Kernel;
using TsmLab.Kernel.Pci;
using TsmLab.Platforms.SevTio.Guest;
using TsmLab.Platforms.SevTio.HostDriver;
using TsmLab.Platforms.SevTio.Vmm;
using TsmLab.Tdisp.Device;
using TsmLab.Vmm;
using TsmLab.Platforms.SevTio.Kvm;

namespace TsmLab.Platforms.SevTio;

/// <summary>
/// One SNP guest with an assigned device on a booted <c>sev</c> host, wired as on the machine:
/// a VMM process that ran the assignment sequence (KVM SNP VM, VFIO, IOAS, HWPT, vIOMMU,
/// vDevice) and handles GHCB exits with <see cref="SevTioVmm"/>, guest RAM in the VMM's memory,
/// and the guest's TIO driver holding its VMPCK0 from the PSP's launch. Nothing is bound: the
/// guest's lock makes the VMM bind. Used by the end-to-end flow, the demo and the tests.
/// </summary>
public sealed class SevTioSession
{
    /// <summary>The guest's view of the device (guest RID 0x18 = 00:03.0) and where its BARs sit in guest memory.</summary>
    public static readonly PciAddress GuestAddress = new(0, 0, 3, 0);
    public const ulong GuestBar0 = 0xE000_0000, GuestBar2 = 0x80_0000_0000, GuestRamHva = 0x6000_0000_0000, GuestRamSize = 1 << 20, KvmRunHva = 0x5f00_0000_0000;

    private SevTioSession(int vfio, ISevExitHandler? interposer, Action<HostKernel>? onBoot, HostConfiguration? config)
    {
        VfioIndex = vfio;
        Kernel = HostKernel.Boot(config ?? SevTioHost.Configuration(), onBoot);
        Tsm = (SevTioLinkTsm)Kernel.Tsm.Find(0)!.Platform;
        Process = Kernel.CreateProcess();
        Ram = new GuestRam(Process, GuestRamHva, GuestRamSize);
        Assignment = new DeviceAssignment(Process, new AssignmentPlan($"/dev/vfio/devices/vfio{vfio}", KvmVmType.X86SnpVm, IommuViommuAlloc.TypeArmRealmSmmuV3OrAmd, GuestAddress), Ram);
        Prepared = Assignment.Prepare();
        Vmm = new SevTioVmm(Assignment.Calls, Assignment.IommuFd, Ram);
        // vfio0 is PF0 (BAR0 1 MiB at 0xf0000000, BAR2 16 MiB at 0x4000000000); vfioN the VFs after it.
        Vmm.Attach(GuestAddress.GuestRid, Assignment.VdeviceId,
            vfio == 0
                ? [new GuestBar(0, GuestBar0, 0xF000_0000, 0x10_0000), new GuestBar(2, GuestBar2, 0x40_0000_0000, 0x100_0000)]
                : [new GuestBar(0, GuestBar0, 0xF100_0000 + (ulong)(vfio - 1) * 0x4000, 0x4000), new GuestBar(2, GuestBar2, 0x41_0000_0000 + (ulong)(vfio - 1) * 0x10_0000, 0x10_0000)]);
        Asid = (uint)Kernel.Vms.Single().Id;
        Process.Memory.Map(KvmRunHva, AddressSpace.PageSize, Prot.ReadWrite);
        Vcpu = new SevVcpu(Process, Ram, KvmRunHva) { Exits = interposer ?? Vmm };
        Guest = new SnpTioGuest(Ram, Vcpu, Tsm.Psp.LaunchGuest(Asid)!, GuestAddress.GuestRid,
            new Dictionary<int, ulong> { [0] = GuestBar0, [2] = GuestBar2 });
    }

    /// <summary>
    /// Boots a <c>sev</c> host and runs the VMM's sequence for <c>/dev/vfio/devices/vfio{vfio}</c>
    /// up to TSM_INFO (check <see cref="Prepared"/>). <paramref name="interposer"/>, if given, sees
    /// every exit first and must pass it on to <see cref="Vmm"/> (a test's hostile hypervisor);
    /// <paramref name="onBoot"/> sees the kernel before its devices and connects (to attach a trace or a DOE capture);
    /// <paramref name="config"/>, a variant of the <c>sev</c> host to boot instead (the same functions).
    /// </summary>
    public static SevTioSession Start(int vfio = 0, ISevExitHandler? interposer = null, Action<HostKernel>? onBoot = null, HostConfiguration? config = null) =>
        new(vfio, interposer, onBoot, config);

    public HostKernel Kernel { get; }
    public SevTioLinkTsm Tsm { get; }
    public Process Process { get; }
    public DeviceAssignment Assignment { get; }
    /// <summary>True when every call of the VMM's assignment sequence succeeded.</summary>
    public bool Prepared { get; }
    public GuestRam Ram { get; }
    public SevTioVmm Vmm { get; }
    public SnpTioGuest Guest { get; }
    public uint Asid { get; }
    public int VfioIndex { get; }
    public PciFunction Function => Kernel.VfioDevices[VfioIndex].Function;
    /// <summary>The device behind the assigned function.</summary>
    public DeviceSecurityManager Device => SevTioHost.DeviceOf(Kernel)?.Dsm ?? throw new InvalidOperationException("host has no TDISP device");

    /// <summary>The guest's vCPU (KVM): forwards the SEV-TIO VMGEXITs to the VMM (or the interposer).</summary>
    public SevVcpu Vcpu { get; }
}
