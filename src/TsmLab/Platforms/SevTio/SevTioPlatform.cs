using TsmLab.Abi;
using TsmLab.Kernel;
using TsmLab.Tdisp.Wire;
using TsmLab.Tracing;
using TsmLab.Vmm;

namespace TsmLab.Platforms.SevTio;

/// <summary>AMD SEV-TIO as a registered platform: the <c>sev</c> host, an SNP guest with its TIO driver, op-arch profile only.</summary>
public sealed class SevTioPlatform : IPlatform
{
    public string Name => "sev";
    public string DisplayName => "AMD SEV-TIO";
    public TvmArch Arch => TvmArch.Sev;

    public IReadOnlyList<PlatformHost> Hosts { get; } =
    [
        new("sev", "x86-64 with SEV-SNP, AMD IOMMU; the SEV-TIO link TSM over the PSP model (docs/sev-tio.md); op-arch profile",
            profile => SevTioHost.Configuration() with { Profile = profile }),
    ];

    /// <summary>SEV-TIO's guest messages are encrypted envelopes the host cannot classify: no scope-profile form (docs/sev-tio.md).</summary>
    public bool Supports(TsmAbiProfile profile) => profile == TsmAbiProfile.OpArch;

    public GuestStepLabels Labels { get; } = new(
        Lock: "lock: bind, TDI_INFO(CERTS|MEAS|REPORT), check digests",
        Accept: "accept: MMIO_VALIDATE each range, RUN",
        EnableDma: "enable DMA: SDTE_WRITE",
        Unlock: "unlock");

    public IPlatformSession Start(TsmAbiProfile profile, TraceLog? trace, HostConfiguration? host = null) => new Session(trace, host);

    /// <summary>The PSP, GHCB and SNP guest-message interfaces (docs/sev-tio.md), from the tables the model runs on.</summary>
    public PlatformAbi Abi { get; } = TsmLab.Platforms.SevTio.Abi.SevTioAbiTables.Build();

    private sealed class Session(TraceLog? trace, HostConfiguration? host) : IPlatformSession
    {
        private readonly SevTioSession s = SevTioSession.Start(onBoot: k => k.Trace = trace, config: host);
        public HostKernel Kernel => s.Kernel;
        public DeviceAssignment Assignment => s.Assignment;
        public bool Prepared => s.Prepared;
        public ITsmGuest Guest => s.Guest;
        public TdiState DeviceTdiState => s.Device.FindInterface(TdiFunctionId.FromRid(s.Function.Address.RequesterId))?.State ?? TdiState.ConfigUnlocked;
    }
}
