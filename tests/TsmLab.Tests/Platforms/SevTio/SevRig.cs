using TsmLab.Abi;
using TsmLab.Kernel;
using TsmLab.Kernel.Pci;
using TsmLab.Platforms.SevTio;
using TsmLab.Platforms.SevTio.Guest;
using TsmLab.Platforms.SevTio.HostDriver;
using TsmLab.Platforms.SevTio.Vmm;
using TsmLab.Vmm;

namespace TsmLab.Tests.Platforms.SevTio;

/// <summary>The `sev` host booted, a VMM that assigned vfio0 (PF0) to an SNP VM, its GHCB handler, and the SNP guest.</summary>
internal sealed class SevRig : IGhcbExitHandler
{
    public static readonly PciAddress GuestAddress = new(0, 0, 3, 0);
    public const ulong GuestBar0 = 0xE000_0000, GuestBar2 = 0x80_0000_0000;

    /// <param name="vfio">Which cdev to assign; vfio1 is VF0 (RID 0x0101, BAR0 16 KiB at 0xf1000000, BAR2 1 MiB at 0x4100000000).</param>
    public SevRig(int vfio = 0)
    {
        _vfio = vfio;
        Kernel = HostKernel.Boot(SevTioHost.Configuration());
        Tsm = (SevTioLinkTsm)Kernel.Tsm.Find(0)!.Platform;
        Process = Kernel.CreateProcess();
        Assignment = new DeviceAssignment(Process, new AssignmentPlan($"/dev/vfio/devices/vfio{vfio}", KvmVmType.X86SnpVm, IommuViommuAlloc.TypeArmRealmSmmuV3OrAmd, GuestAddress));
        Assert.True(Assignment.Prepare(), string.Join("\n", Assignment.Steps));
        Ram = new GuestRam(Process, 0x6000_0000_0000, 1 << 20);
        Vmm = new SevTioVmm(Assignment.Calls, Assignment.IommuFd, Ram);
        Vmm.Attach(GuestAddress.GuestRid, Assignment.VdeviceId,
            vfio == 0
                ? [new GuestBar(0, GuestBar0, 0xF000_0000, 0x10_0000), new GuestBar(2, GuestBar2, 0x40_0000_0000, 0x100_0000)]
                : [new GuestBar(0, GuestBar0, 0xF100_0000 + (ulong)(vfio - 1) * 0x4000, 0x4000), new GuestBar(2, GuestBar2, 0x41_0000_0000 + (ulong)(vfio - 1) * 0x10_0000, 0x10_0000)]);
        Asid = (uint)Kernel.Vms.Single().Id;
        Guest = new SnpTioGuest(Ram, this, Tsm.Psp.LaunchGuest(Asid)!, GuestAddress.GuestRid,
            new Dictionary<int, ulong> { [0] = GuestBar0, [2] = GuestBar2 });
    }

    public HostKernel Kernel { get; }
    public SevTioLinkTsm Tsm { get; }
    public Process Process { get; }
    public DeviceAssignment Assignment { get; }
    public GuestRam Ram { get; }
    public SevTioVmm Vmm { get; }
    public SnpTioGuest Guest { get; }
    public uint Asid { get; }
    public PciFunction Function => Kernel.VfioDevices[_vfio].Function;
    private readonly int _vfio;
    public const uint FunctionId = 0x0100;

    /// <summary>A hostile hypervisor's hook: runs before the VMM sees an exit (may rewrite guest pages or the GHCB).</summary>
    public Action<Ghcb>? BeforeExit { get; set; }
    /// <summary>Every request page the VMM was given, as it was at the exit.</summary>
    public List<(Ghcb Ghcb, byte[] Page)> Exits { get; } = [];

    public void Vmgexit(Ghcb ghcb)
    {
        BeforeExit?.Invoke(ghcb);
        if (ghcb.ExitCode == SevTioExit.GuestRequest)
        {
            var page = new byte[4096];
            Ram.Read(ghcb.ExitInfo1, page);
            Exits.Add((new Ghcb { ExitCode = ghcb.ExitCode, ExitInfo1 = ghcb.ExitInfo1, ExitInfo2 = ghcb.ExitInfo2, Rax = ghcb.Rax, Rbx = ghcb.Rbx, Rcx = ghcb.Rcx, Rdx = ghcb.Rdx }, page));
        }
        Vmm.Vmgexit(ghcb);
    }

    /// <summary>Bind, verified TDI_INFO, RUN, MMIO validated, DMA enabled.</summary>
    public void Accepted()
    {
        Assert.Equal(GuestOutcome.Ok, Guest.Lock().Outcome);
        Assert.Equal(GuestOutcome.Ok, Guest.Accept().Outcome);
        Assert.Equal(GuestOutcome.Ok, Guest.EnableDma().Outcome);
    }
}
