using TsmLab.Kernel;
using TsmLab.Kernel.Pci;
using TsmLab.Platforms.SevTio;
using TsmLab.Platforms.SevTio.Guest;
using TsmLab.Platforms.SevTio.HostDriver;
using TsmLab.Platforms.SevTio.Vmm;
using TsmLab.Vmm;
using TsmLab.Platforms.SevTio.Abi;

namespace TsmLab.Tests.Platforms.SevTio;

/// <summary>The `sev` host booted, a VMM that assigned vfio0 (PF0) to an SNP VM, its GHCB handler, and the SNP guest.</summary>
internal sealed class SevRig : ISevExitHandler
{
    /// <param name="vfio">Which cdev to assign; vfio1 is VF0 (RID 0x0101, BAR0 16 KiB at 0xf1000000, BAR2 1 MiB at 0x4100000000).</param>
    public SevRig(int vfio = 0)
    {
        Session = SevTioSession.Start(vfio, this);
        Assert.True(Session.Prepared, string.Join("\n", Session.Assignment.Steps));
    }

    public const ulong GuestBar0 = SevTioSession.GuestBar0, GuestBar2 = SevTioSession.GuestBar2;
    public static readonly PciAddress GuestAddress = SevTioSession.GuestAddress;
    public SevTioSession Session { get; }
    public HostKernel Kernel => Session.Kernel;
    public SevTioLinkTsm Tsm => Session.Tsm;
    public Process Process => Session.Process;
    public DeviceAssignment Assignment => Session.Assignment;
    public GuestRam Ram => Session.Ram;
    public SevTioVmm Vmm => Session.Vmm;
    public SnpTioGuest Guest => Session.Guest;
    public uint Asid => Session.Asid;
    public PciFunction Function => Session.Function;
    public TsmLab.Tdisp.Device.DeviceSecurityManager Device => Session.Device;
    public const uint FunctionId = 0x0100;

    /// <summary>A hostile hypervisor's hook: runs before the VMM sees an exit (may rewrite guest pages or the GHCB).</summary>
    public Action<GhcbFields>? BeforeExit { get; set; }
    /// <summary>Every request page the VMM was given, as it was at the exit.</summary>
    public List<(GhcbFields Ghcb, byte[] Page)> Exits { get; } = [];

    /// <summary>The hostile hypervisor's seat: sees each forwarded exit (kvm_run, then the GHCB in guest memory) before the VMM.</summary>
    public void HandleExit(ulong kvmRunHva)
    {
        var run = new byte[48];
        Assert.Equal(0, Process.Memory.CopyFromUser(run, kvmRunHva));
        ulong gpa = BitConverter.ToUInt64(run, KvmRunSevTio.GhcbGpa);
        var ghcbPage = new byte[GhcbPage.Size];
        Ram.Read(gpa, ghcbPage);
        var ghcb = GhcbFields.Read(ghcbPage);
        BeforeExit?.Invoke(ghcb);
        if (ghcb.ExitCode == SevTioExit.GuestRequest)
        {
            var page = new byte[4096];
            Ram.Read(ghcb.ExitInfo1, page);
            Exits.Add((ghcb, page));
        }
        Vmm.HandleExit(kvmRunHva);
    }

    /// <summary>Bind, verified TDI_INFO, RUN, MMIO validated, DMA enabled.</summary>
    public void Accepted()
    {
        Assert.Equal(GuestOutcome.Ok, Guest.Lock().Outcome);
        Assert.Equal(GuestOutcome.Ok, Guest.Accept().Outcome);
        Assert.Equal(GuestOutcome.Ok, Guest.EnableDma().Outcome);
    }
}
