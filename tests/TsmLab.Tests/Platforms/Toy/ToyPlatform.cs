using TsmLab.Abi;
using TsmLab.Kernel;
using TsmLab.Kernel.Pci;
using TsmLab.Platforms;
using TsmLab.Tdisp.Device;
using TsmLab.Tdisp.Wire;
using TsmLab.Tests.Kernel;
using TsmLab.Tracing;
using TsmLab.Vmm;

namespace TsmLab.Tests.Platforms.Toy;

/// <summary>
/// A platform defined entirely in the tests and registered the way the real ones are (docs/design.md,
/// "Adding a platform"): a host with the default TDISP device and <see cref="TestTsmPlatform"/> as its
/// link TSM, a VMM whose "exit" is a method call, and a guest in the shared shape. It proves that
/// nothing in src/ has to change for a new platform.
/// </summary>
internal sealed class ToyPlatform : IPlatform
{
    public const string HostName = "toy-host";

    public string Name => "toy";
    public string DisplayName => "Toy platform (tests)";
    public TvmArch Arch => TvmArch.Cca;

    public IReadOnlyList<PlatformHost> Hosts { get; } = [new(HostName, "arm64, the test link TSM, the default TDISP device", Configuration)];

    public bool Supports(TsmAbiProfile profile) => profile == TsmAbiProfile.OpArch;

    public GuestStepLabels Labels { get; } = new("lock: bind, read the object", "accept: RUN", "enable DMA: validate MMIO", "unlock");

    public IPlatformSession Start(TsmAbiProfile profile, TraceLog? trace, HostConfiguration? host = null) => new ToySession(host ?? Configuration(profile), trace);

    public static HostConfiguration Configuration(TsmAbiProfile profile)
    {
        var device = TdispPciDevice.CreateDefault();
        return new HostConfiguration
        {
            Name = HostName,
            Description = "arm64, the test link TSM, the default TDISP device",
            Arch = HostArch.Arm64,
            VmTypes = [new ConfidentialVmType(KvmVmType.ArmRealm, TvmArch.Cca)],
            Iommu = HostIommu.ArmSmmuV3Realm,
            Profile = profile,
            Functions = device.Functions,
            Devices = [device],
            Tsms = [new TsmSpec("toy-tsm", (_, _) => new TestTsmPlatform(TvmArch.Cca))],
            Connects = [(device.Functions[0].Address, "tsm0")],
        };
    }

    private sealed class ToySession : IPlatformSession
    {
        public ToySession(HostConfiguration config, TraceLog? trace)
        {
            Kernel = HostKernel.Boot(config);
            Kernel.Trace = trace;
            Assignment = new DeviceAssignment(Kernel.CreateProcess(),
                new AssignmentPlan("/dev/vfio/devices/vfio0", KvmVmType.ArmRealm, IommuViommuAlloc.TypeArmRealmSmmuV3OrAmd, new PciAddress(0, 0, 3, 0)));
            Prepared = Assignment.Prepare();
            Guest = new ToyGuest(new ToyVmm(Assignment));
        }

        public HostKernel Kernel { get; }
        public DeviceAssignment Assignment { get; }
        public bool Prepared { get; }
        public ITsmGuest Guest { get; }
        public TdiState DeviceTdiState => Kernel.Functions[0].Tdi?.PlatformState is TdiState s ? s : TdiState.ConfigUnlocked;
    }

    /// <summary>The toy VMM: each guest exit becomes the iommufd call a VMM makes.</summary>
    private sealed class ToyVmm(DeviceAssignment a)
    {
        public long Bind() => a.Calls.TsmOp(a.IommuFd, a.VdeviceId, IommuVdeviceTsmOp.TypeBind);
        public long Unbind() => a.Calls.TsmOp(a.IommuFd, a.VdeviceId, IommuVdeviceTsmOp.TypeUnbind);
        public long Request(TsmReqOp op, byte[] payload, int responseLength, out byte[] response) =>
            a.Calls.TsmRequest(a.IommuFd, a.VdeviceId, op, TvmArch.Cca, payload, responseLength, out response, out _);
    }

    private sealed class ToyGuest(ToyVmm vmm) : ITsmGuest
    {
        public bool EvidenceVerified { get; private set; }
        public bool DmaEnabled { get; private set; }

        private static GuestStepResult Check(GuestStep step, long rc, string ok) =>
            rc < 0 ? GuestStepResult.Refused(step, RefusingLayer.Host, rc, ErrnoNames.NameOf((int)rc)) : GuestStepResult.Success(step, ok);

        public GuestStepResult Lock()
        {
            var r = Check(GuestStep.Lock, vmm.Bind(), "bound");
            if (!r.Ok) return r;
            r = Check(GuestStep.Lock, vmm.Request(TsmReqOp.SetTdiState, BitConverter.GetBytes((uint)TdiState.ConfigLocked), 0, out _), "locked");
            if (!r.Ok) return r;
            return RefreshEvidence() is { Ok: false } e ? e with { Step = GuestStep.Lock } : GuestStepResult.Success(GuestStep.Lock, "object matches");
        }

        public GuestStepResult Accept() =>
            Check(GuestStep.Accept, vmm.Request(TsmReqOp.SetTdiState, BitConverter.GetBytes((uint)TdiState.Run), 0, out _), "RUN");

        public GuestStepResult EnableDma()
        {
            var r = Check(GuestStep.EnableDma, vmm.Request(TsmReqOp.ValidateMmio, new byte[24], 0, out _), "DMA enabled");
            DmaEnabled = r.Ok;
            return r;
        }

        public GuestStepResult Unlock()
        {
            var r = Check(GuestStep.Unlock, vmm.Unbind(), "unlocked");
            if (r.Ok) DmaEnabled = false;
            return r;
        }

        public GuestStepResult RefreshEvidence()
        {
            var req = new byte[16];
            long rc = vmm.Request(TsmReqOp.ReadObject, req, TestTsmPlatform.Object.Length, out var obj);
            if (rc < 0) return GuestStepResult.Refused(GuestStep.RefreshEvidence, RefusingLayer.Host, rc, ErrnoNames.NameOf((int)rc));
            EvidenceVerified = obj.AsSpan(0, TestTsmPlatform.Object.Length).SequenceEqual(TestTsmPlatform.Object);
            return EvidenceVerified
                ? GuestStepResult.Success(GuestStep.RefreshEvidence, "object matches")
                : GuestStepResult.Refused(GuestStep.RefreshEvidence, RefusingLayer.Guest, 0, "object differs");
        }
    }
}
