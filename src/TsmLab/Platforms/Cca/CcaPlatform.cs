using TsmLab.Abi;
using TsmLab.Tdisp.Wire;
using TsmLab.Tracing;
using TsmLab.Vmm;
using TsmLab.Kernel;

namespace TsmLab.Platforms.Cca;

/// <summary>Arm CCA as a registered platform: the <c>cca</c> host, a realm with the CCA guest TSM driver, both ABI profiles.</summary>
public sealed class CcaPlatform : IPlatform
{
    public string Name => "cca";
    public string DisplayName => "Arm CCA";
    public TvmArch Arch => TvmArch.Cca;

    public IReadOnlyList<PlatformHost> Hosts { get; } =
    [
        new(CcaHost.Name, "arm64 with an RMM, SMMUv3; the CCA link TSM over the RMM model (docs/cca.md); both ABI profiles",
            profile => CcaHost.Configuration(profile)),
    ];

    public bool Supports(TsmAbiProfile profile) => true;

    public GuestStepLabels Labels { get; } = new(
        Lock: "lock: bind, fetch evidence, check digests",
        Accept: "accept: validate MMIO, RUN",
        EnableDma: "enable DMA: RSI_VDEV_DMA_ENABLE",
        Unlock: "unlock");

    public IPlatformSession Start(TsmAbiProfile profile, TraceLog? trace, HostConfiguration? host = null) => new Session(profile, trace, host);

    public PlatformAbi Abi { get; } = TsmLab.Platforms.Cca.Abi.CcaAbiTables.Build();

    private sealed class Session : IPlatformSession
    {
        private readonly CcaRealmSession? s;
        private readonly Tdisp.Device.Tdi? tdi;

        public Session(TsmAbiProfile profile, TraceLog? trace, HostConfiguration? host)
        {
            s = CcaRealmSession.TryStart(profile, host, 1, k => k.Trace = trace, out var kernel, out var assignment);
            Kernel = kernel;
            Assignment = assignment;
            Prepared = s is not null;
            Guest = s?.Guest ?? (ITsmGuest)NoGuest.Instance;
            if (s is not null) tdi = s.Device.FindInterface(TdiFunctionId.FromRid(s.Device.Interfaces[0].FunctionId.Rid));
        }

        public HostKernel Kernel { get; }
        public DeviceAssignment Assignment { get; }
        public bool Prepared { get; }
        public ITsmGuest Guest { get; }
        public TdiState DeviceTdiState => tdi?.State ?? TdiState.ConfigUnlocked;
    }
}
