using TsmLab.Abi;
using TsmLab.Kernel;
using TsmLab.Tdisp.Wire;
using TsmLab.Tracing;
using TsmLab.Vmm;

namespace TsmLab.Platforms.Tdx;

/// <summary>Intel TDX Connect as a registered platform: the <c>tdx</c> host, a TD with its TDX Connect driver, op-arch profile only.</summary>
public sealed class TdxPlatform : IPlatform
{
    public string Name => "tdx";
    public string DisplayName => "Intel TDX Connect";
    public TvmArch Arch => TvmArch.Tdx;

    public IReadOnlyList<PlatformHost> Hosts { get; } =
    [
        new("tdx", "x86-64 with TDX Connect, Intel VT-d; the tdx-host link TSM over the TDX module model (docs/tdx.md); op-arch profile",
            profile => TdxHost.Configuration() with { Profile = profile }),
    ];

    /// <summary>TDX's requests have no scope-profile form (docs/tdx.md).</summary>
    public bool Supports(TsmAbiProfile profile) => profile == TsmAbiProfile.OpArch;

    public GuestStepLabels Labels { get; } = new(
        Lock: "lock: TDCM BIND, GET_TDI_REPORT, TDG.TDI.RD hashes checked",
        Accept: "accept: TDG.MMIO.ACCEPT each range, TDG.TDI.START, RUN",
        EnableDma: "enable DMA: TDG.DMAR.ACCEPT",
        Unlock: "unlock: TDCM UNBIND");

    public IPlatformSession Start(TsmAbiProfile profile, TraceLog? trace, HostConfiguration? host = null) => new Session(trace, host);

    /// <summary>The SEAMCALL/TDCALL leaves, statuses and layouts (<c>tsmlab abi --platform tdx</c>).</summary>
    public PlatformAbi Abi { get; } = TsmLab.Platforms.Tdx.Abi.TdxAbiTables.Build();

    private sealed class Session(TraceLog? trace, HostConfiguration? host) : IPlatformSession
    {
        private readonly TdxSession s = TdxSession.Start(host, onBoot: k => k.Trace = trace);
        public HostKernel Kernel => s.Kernel;
        public DeviceAssignment Assignment => s.Assignment;
        public bool Prepared => s.Prepared;
        public ITsmGuest Guest => s.Guest;
        public TdiState DeviceTdiState => s.Device.FindInterface(TdiFunctionId.FromRid(s.Function.Address.RequesterId))?.State ?? TdiState.ConfigUnlocked;
    }
}
