using TsmLab.Platforms.Cca.Abi;
using TsmLab.Spdm.Requester;
using TsmLab.Spdm.Session;
using TsmLab.Tdisp.Requester;
using TsmLab.Tdisp.Wire;

namespace TsmLab.Platforms.Cca.Firmware;

/// <summary>A realm's memory as the RMM reaches it by IPA (the model keeps realm RAM in the VMM's guest-RAM mapping).</summary>
public interface IRealmMemory
{
    bool Read(ulong ipa, Span<byte> destination);
    bool Write(ulong ipa, ReadOnlySpan<byte> source);
}

/// <summary>The device operation a VDEV (or PDEV) runs at its next COMMUNICATE.</summary>
internal enum DeviceOp { None, ConnectInit, SecureSession, Stop, Create, Lock, Start, Unlock, GetReport, GetMeasurements }

/// <summary>A cache object on its way to the host, delivered in pieces no larger than the host's buffer; <see cref="Sent"/> bytes have gone.</summary>
internal sealed class OutgoingObject(CacheObject id, byte[] bytes)
{
    public CacheObject Id { get; } = id;
    public byte[] Bytes { get; } = bytes;
    public int Sent { get; set; }
}

/// <summary>
/// An RMM PDEV: the physical device's DSM, its link state, its device-level evidence, and the RMM's
/// SPDM conversation with it — the requester, the session once established, and the flow (one device
/// operation of the PDEV or of one of its VDEVs) waiting on the host's relay. The RMM's lock guards it.
/// </summary>
internal sealed class RmmPdev : IDisposable
{
    public RmmPdev(ulong pa, ulong pdevId, byte hashAlgo, ushort ridBase, ushort ridTop)
    {
        Pa = pa;
        PdevId = pdevId;
        HashAlgo = hashAlgo;
        RidBase = ridBase;
        RidTop = ridTop;
        // No root: the host verifies the chain and provisions the leaf key (RMI_PDEV_SET_PUBKEY).
        // CHUNK_CAP: a measurement record above the device's DataTransferSize comes by CHUNK_GET, one object per COMMUNICATE,
        // up to the 16 MiB an RHI object may hold (TsmLab definition of the RMM's MaxSPDMmsgSize).
        Spdm = new SpdmRequester(Channel, new SpdmRequesterSettings
        {
            Capabilities = new SpdmRequesterSettings().Capabilities | TsmLab.Spdm.Wire.SpdmCapabilities.Chunk,
            MaxMessageSize = 16 << 20,
        });
    }

    public ulong Pa { get; }
    public ulong PdevId { get; }
    public byte HashAlgo { get; }
    public ushort RidBase { get; }
    public ushort RidTop { get; }
    /// <summary>The DOE objects the RMM hands the host to send (exit REQ_SEND) and the answers it delivers back.</summary>
    public RelayChannel Channel { get; } = new();
    public SpdmRequester Spdm { get; }
    /// <summary>The secured session once KEY_EXCHANGE + FINISH succeeded; TDISP and IDE_KM run only inside it.</summary>
    public SpdmSession? Session { get; set; }
    /// <summary>TDISP and IDE_KM over <see cref="Session"/> (null before it).</summary>
    public TdispRequester? Tdisp { get; set; }
    /// <summary>The device operation in progress and who runs it (this PDEV or one of its VDEVs); null owner when none.</summary>
    public ValueTask<bool> Flow { get; set; }
    public object? FlowOwner { get; set; }
    /// <summary>Why the last device operation failed (one line; empty after a success).</summary>
    public string Failure { get; set; } = "";
    public PdevState State { get; set; } = PdevState.New;
    public DeviceOp Pending { get; set; } = DeviceOp.ConnectInit;
    /// <summary>The phase <see cref="Flow"/> runs when this PDEV owns it.</summary>
    public DeviceOp Running { get; set; }
    public byte[] Vca { get; set; } = [];
    public byte[] Certificate { get; set; } = [];
    /// <summary>The public key the host gave with RMI_PDEV_SET_PUBKEY (04 || X || Y for ECDSA).</summary>
    public byte[] PublicKey { get; set; } = [];
    public byte SignatureAlgorithm { get; set; }
    public byte TdispVersion { get; set; }
    public Queue<OutgoingObject> Outbox { get; } = new();
    public int VdevCount { get; set; }
    /// <summary>The functions (RIDs) with a VDEV on this PDEV: VDEV_CREATE's duplicate check is one lookup, whatever the number of devices.</summary>
    public HashSet<ushort> Tdis { get; } = [];
    public TdiFunctionId FunctionId => TdiFunctionId.FromRid((ushort)PdevId);

    public void Dispose() => Spdm.Dispose();
}

/// <summary>An RMM VDEV: one TDI assigned to one realm, its state, the LOCK nonce and its evidence generations.</summary>
internal sealed class RmmVdev(ulong pa, RmmRealm realm, RmmPdev pdev, ulong vdevId, ushort tdiId)
{
    public ulong Pa { get; } = pa;
    public RmmRealm Realm { get; } = realm;
    public RmmPdev Pdev { get; } = pdev;
    /// <summary>The guest's RID for the TDI (rmi_vdev_params.vdev_id).</summary>
    public ulong VdevId { get; } = vdevId;
    public TdiFunctionId FunctionId { get; } = TdiFunctionId.FromRid(tdiId);
    public VdevState State { get; set; } = VdevState.New;
    /// <summary>How many device RTT entries of its realm map this VDEV's memory (so teardown need not search when none do).</summary>
    public int DevMappings { get; set; }
    public DeviceOp Pending { get; set; } = DeviceOp.Create;
    /// <summary>The operation its PDEV's flow runs for it.</summary>
    public DeviceOp Running { get; set; }
    /// <summary>The START_INTERFACE nonce from LOCK; never leaves the RMM.</summary>
    public byte[] LockNonce { get; } = new byte[32];
    /// <summary>Generation counters the guest sees as lock/meas/report "nonces" in rsi_vdevice_info.</summary>
    public ulong LockGeneration { get; set; }
    public ulong MeasGeneration { get; set; }
    public ulong ReportGeneration { get; set; }
    public byte[]? Report { get; set; }
    public IReadOnlyList<MmioRange> Ranges { get; set; } = [];
    public byte[]? Measurements { get; set; }
    public ulong MeasFlags { get; set; }
    public byte[] MeasNonce { get; } = new byte[32];
    public bool DmaEnabled { get; set; }
    public Queue<OutgoingObject> Outbox { get; } = new();
}

/// <summary>A device-memory mapping in a realm's RTT (RMI_RTT_DEV_MAP), validated by RMI_RTT_DEV_VALIDATE.</summary>
internal readonly record struct DevMapping(ulong Pa, RmmVdev Vdev, bool Validated = false);

/// <summary>A realm (RD): its memory, its device RTT entries and its VDEVs by guest RID.</summary>
internal sealed class RmmRealm(ulong rd)
{
    /// <summary>TsmLab: REALM_CREATE's parameters are not modelled; every realm has a 48-bit IPA space whose lower half is the protected range (PAR).</summary>
    public const ulong ParTop = 1UL << 47;

    public ulong Rd { get; } = rd;
    public IRealmMemory? Memory { get; set; }

    /// <summary>[base, top) lies in the realm's protected address range.</summary>
    public static bool InPar(ulong ipaBase, ulong ipaTop) => ipaBase < ipaTop && ipaTop <= ParTop;
    /// <summary>The device RTT entries by IPA, level 3 (4 KiB), in blocks of 512 as an RTT keeps them.</summary>
    public Hardware.SparsePageMap<DevMapping> DevRtt { get; } = new();
    public Dictionary<ulong, RmmVdev> Vdevs { get; } = new();
}

/// <summary>An RSI call a REC is in the middle of (it exited to the host and waits for REC_ENTER).</summary>
internal abstract record PendingRsi;

internal sealed record PendingHostCall(ulong StructIpa, ulong[] Gprs) : PendingRsi;

internal sealed record PendingValidateMapping(RmmVdev Vdev, ulong Base, ulong Top, ulong Pa) : PendingRsi
{
    /// <summary>How far RMI_RTT_DEV_VALIDATE has got.</summary>
    public ulong Progress { get; set; } = Base;
}

/// <summary>A REC (one realm vCPU): the guest registers of its current RSI call and what it waits for.</summary>
internal sealed class RmmRec(ulong pa, RmmRealm realm)
{
    public ulong Pa { get; } = pa;
    public RmmRealm Realm { get; } = realm;
    public ulong[] Regs { get; } = new ulong[Rmi.RunGprCount];
    public PendingRsi? Pending { get; set; }
}
