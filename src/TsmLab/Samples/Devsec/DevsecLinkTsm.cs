using System.Buffers.Binary;
using TsmLab.Abi;
using TsmLab.Kernel.Pci;
using TsmLab.Kernel.Tsm;
using TsmLab.Tdisp.Wire;

namespace TsmLab.Samples.Devsec;

/// <summary>
/// The second TSM of a two-TSM host, modelled on Linux's <c>samples/devsec</c> link TSM [DS1]: a
/// test TSM kernel developers load to exercise the TSM core without platform firmware. Like the
/// sample, it claims only the functions of its own emulated host bridge (<see cref="DevsecBus"/>;
/// connect of any other device is ENXIO, as <c>pci_tsm_connect</c> answers when the TSM's probe
/// declines a device) and emulates the device's security state in software: no SPDM, no IDE, no
/// DOE. The sample stops at connect and disconnect; bind, unbind and guest requests here are
/// TsmLab definitions (docs/proposal.md, "Two TSMs on one host"): bind locks the TDI,
/// SET_TDI_STATE moves it to RUN or back to CONFIG_UNLOCKED with the 4-byte TDISP-numbered
/// payload every platform uses for that op, and the scope profile takes
/// <see cref="DevsecScopeRequest"/>. It serves the TVM architecture of the host's confidential
/// VMs, so the same VM can hold vDevices behind both TSMs.
/// Locking: <see cref="connected"/> changes only under the TSM core's rwsem held for write
/// (connect, disconnect) and is read under it held for read (bind); a TDI's state changes only
/// under its DSM's mutex (bind, unbind, guest_req), so the TSM needs no lock of its own.
/// </summary>
public sealed class DevsecLinkTsm : ILinkTsmPlatform
{
    /// <summary>The driver's name, as <c>tsm_dev</c> users see it.</summary>
    public const string DriverName = "devsec";

    private static readonly TsmOpDescriptor[] OpTable =
    [
        new(TsmReqOp.SetTdiState, TsmReqClass.StateChange, SetTdiStateLength, 0),
    ];

    /// <summary>SET_TDI_STATE's payload: u32 TDISP state, as on every platform.</summary>
    private const int SetTdiStateLength = 4;

    private readonly HashSet<PciAddress> connected = new();
    private readonly ushort segment;

    /// <summary>A devsec TSM for the functions in PCI domain <paramref name="segment"/>, serving VMs of <paramref name="arch"/>.</summary>
    public DevsecLinkTsm(TvmArch arch, ushort segment)
    {
        Arch = arch;
        this.segment = segment;
    }

    public string Name => DriverName;
    public TvmArch Arch { get; }
    public IReadOnlyList<TsmOpDescriptor> Ops => OpTable;
    public int MaxRequestLength => DevsecScopeRequest.SetStateLength;
    public int MaxResponseLength => 0;

    /// <summary>ENXIO for a device outside the devsec bus; else the link is "up" (the sample's emulated IDE).</summary>
    public int Connect(PciFunction dsm)
    {
        if (dsm.Address.Segment != segment) return Errno.ENXIO.Neg();
        connected.Add(dsm.Address);
        return 0;
    }

    public void Disconnect(PciFunction dsm) => connected.Remove(dsm.Address);

    /// <summary>EINVAL for a VM of another architecture; ENXIO when the DSM is not connected here; else the TDI is CONFIG_LOCKED.</summary>
    public int Bind(TsmTdi tdi)
    {
        if (tdi.Vm.Arch != Arch) return Errno.EINVAL.Neg();
        if (!connected.Contains(tdi.Function.Dsm.Address)) return Errno.ENXIO.Neg();
        tdi.PlatformState = new DevsecTdi { State = TdiState.ConfigLocked };
        return 0;
    }

    public void Unbind(TsmTdi tdi) => tdi.PlatformState = null;

    public TdiState QueryTdiState(TsmTdi tdi) => tdi.PlatformState is DevsecTdi t ? t.State : TdiState.ConfigUnlocked;

    public bool TryClassify(ReadOnlySpan<byte> request, out TsmReqClass requestClass) =>
        DevsecScopeRequest.TryDecode(request, out _, out requestClass);

    /// <summary>
    /// The arch re-checked (EINVAL); the payload decoded with its exact length (EINVAL); the state
    /// change applied when TDISP allows it from the current state (EINVAL otherwise). tsm_code
    /// stays 0: there is no firmware status.
    /// </summary>
    public int GuestRequest(TsmTdi tdi, ref TsmGuestRequest request)
    {
        if (request.Arch != Arch) return Errno.EINVAL.Neg();
        if (tdi.PlatformState is not DevsecTdi t) return Errno.ENXIO.Neg();
        uint target;
        if (request.Profile == TsmAbiProfile.OpArch)
        {
            if (request.Op != TsmReqOp.SetTdiState || request.Request.Length != SetTdiStateLength) return Errno.EINVAL.Neg();
            target = BinaryPrimitives.ReadUInt32LittleEndian(request.Request);
        }
        else if (!DevsecScopeRequest.TryDecode(request.Request, out target, out _)) return Errno.EINVAL.Neg();

        TdiState next;
        switch (target)
        {
            case (uint)TdiState.Run when t.State == TdiState.ConfigLocked:
                next = TdiState.Run;
                break;
            case (uint)TdiState.ConfigUnlocked when t.State is TdiState.ConfigLocked or TdiState.Run or TdiState.Error:
                next = TdiState.ConfigUnlocked;
                break;
            default:
                return Errno.EINVAL.Neg();
        }
        t.State = next;
        request.StateChanged = true;
        return request.NoResponse();
    }

    /// <summary>The emulated TDI (guarded by its DSM's mutex).</summary>
    private sealed class DevsecTdi
    {
        public TdiState State;
    }
}
