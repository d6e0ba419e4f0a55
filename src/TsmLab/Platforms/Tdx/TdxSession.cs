using TsmLab.Abi;
using TsmLab.Kernel;
using TsmLab.Kernel.Pci;
using TsmLab.Platforms.Tdx.Abi;
using TsmLab.Platforms.Tdx.Firmware;
using TsmLab.Platforms.Tdx.Guest;
using TsmLab.Platforms.Tdx.HostDriver;
using TsmLab.Platforms.Tdx.Kvm;
using TsmLab.Platforms.Tdx.Vmm;
using TsmLab.Tdisp.Device;
using TsmLab.Vmm;

namespace TsmLab.Platforms.Tdx;

/// <summary>
/// One TD with an assigned device on a booted <c>tdx</c> host, wired as on the machine: a VMM
/// process that ran the assignment sequence (KVM_X86_TDX_VM, VFIO, IOAS, HWPT, vIOMMU, vDevice,
/// TSM_INFO) and handles KVM_EXIT_TDX with <see cref="TdxVmm"/>, guest RAM in the VMM's memory, a
/// TD vCPU (KVM) whose TDCALLs reach the module and whose TDVMCALL&lt;TDCM&gt; reaches the VMM, and the
/// TD's driver. Nothing is bound: the TD's lock makes the VMM bind.
/// </summary>
public sealed class TdxSession
{
    /// <summary>The TD's view of the device (guest RID 0x18 = 00:03.0) and where its BARs sit in guest memory.</summary>
    public static readonly PciAddress GuestAddress = new(0, 0, 3, 0);
    public const ulong GuestBar0 = 0xE000_0000, GuestBar2 = 0x80_0000_0000, GuestRamHva = 0x6000_0000_0000, GuestRamSize = 1 << 20, KvmRunHva = 0x5f00_0000_0000;

    private TdxSession(HostConfiguration config, ITdxExitHandler? interposer, Action<HostKernel>? onBoot, ulong? configFlags)
    {
        Kernel = HostKernel.Boot(config, onBoot);
        if (configFlags is ulong flags) TdRegistry.Of(Kernel).ConfigFlags = flags;
        Tsm = (TdxLinkTsm)Kernel.Tsm.Find(0)!.Platform;
        Process = Kernel.CreateProcess();
        Ram = new GuestRam(Process, GuestRamHva, GuestRamSize);
        Assignment = new DeviceAssignment(Process, new AssignmentPlan("/dev/vfio/devices/vfio0", KvmVmType.X86TdxVm, VtdIommu.ViommuTypeTdx, GuestAddress), Ram);
        Prepared = Assignment.Prepare();
        Vmm = new TdxVmm(Assignment.Calls, Assignment.IommuFd, Ram, () => Assignment.Info);
        // vfio0 is PF0: BAR0 1 MiB at 0xf0000000, BAR2 16 MiB at 0x4000000000.
        Vmm.Attach(GuestAddress.RequesterId, Assignment.VdeviceId, HostFuncId,
            new TdxGuestBar(0, GuestBar0, 0xF000_0000, 0x10_0000), new TdxGuestBar(2, GuestBar2, 0x40_0000_0000, 0x100_0000));
        Process.Memory.Map(KvmRunHva, AddressSpace.PageSize, Prot.ReadWrite);
        ulong tdr = Kernel.Vms.FirstOrDefault() is { } vm ? TdRegistry.Of(Kernel).TdrFor(vm) : 0;
        Vcpu = new TdVcpu(Process, Ram, KvmRunHva, Module, tdr) { Exits = interposer ?? Vmm };
        Guest = new TdxTsmGuest(Ram, Vcpu, GuestAddress.RequesterId, new Dictionary<int, ulong> { [0] = GuestBar0, [2] = GuestBar2 });
    }

    /// <summary>
    /// Boots a <c>tdx</c> host (its configuration from <paramref name="config"/>, the built-in one
    /// when null) and runs the VMM's sequence for vfio0 up to TSM_INFO. <paramref name="interposer"/>
    /// sees every exit first and must pass it on to <see cref="Vmm"/> (a test's hostile VMM);
    /// <paramref name="onBoot"/> sees the kernel before its devices and connects; <paramref name="configFlags"/>
    /// overrides the TD's CONFIG_FLAGS.
    /// </summary>
    public static TdxSession Start(HostConfiguration? config = null, ITdxExitHandler? interposer = null, Action<HostKernel>? onBoot = null, ulong? configFlags = null) =>
        new(config ?? TdxHost.Configuration(), interposer, onBoot, configFlags);

    public HostKernel Kernel { get; }
    public TdxLinkTsm Tsm { get; }
    public TdxModule Module => Kernel.Machine.FirmwareAs<TdxModule>();
    public Process Process { get; }
    public DeviceAssignment Assignment { get; }
    /// <summary>True when every call of the VMM's assignment sequence succeeded.</summary>
    public bool Prepared { get; }
    public GuestRam Ram { get; }
    public TdxVmm Vmm { get; }
    public TdVcpu Vcpu { get; }
    public TdxTsmGuest Guest { get; }
    public PciFunction Function => Kernel.VfioDevices[0].Function;
    /// <summary>The TDISP func_id of the assigned host function.</summary>
    public uint HostFuncId => TdispFuncId.Of(Function.Address);
    /// <summary>The device behind the assigned function.</summary>
    public DeviceSecurityManager Device => TdxHost.DeviceOf(Kernel)?.Dsm ?? throw new InvalidOperationException("host has no TDISP device");
}
