// The AMD PSP running SEV-TIO firmware: the TIO commands a host driver issues [S4,S5], each with
// a command buffer and a status (PspStatus); the device reached only through TDISP/IDE_KM bytes
// over the host's DOE route; the RMP and the secure device table it guards; and the guest
// contexts whose VMPCKs never leave it (except into the guest's secrets page at launch).
// Every command validates fully before changing anything: a failing command changes nothing.
using System.Security.Cryptography;
using TsmLab.Abi;
using TsmLab.Hardware;
using TsmLab.Tdisp.Requester;
using TsmLab.Tdisp.Wire;
using TsmLab.Platforms.SevTio.Abi;
using TsmLab.Platforms.SevTio.HostDriver;
using TsmLab.Platforms.SevTio.Vmm;
using TsmLab.Platforms.SevTio.Kvm;
using TsmLab.Platforms.SevTio.Guest;

namespace TsmLab.Platforms.SevTio.Firmware;

/// <summary>The PSP firmware model (SEV-TIO).</summary>
public sealed partial class PspFirmware : IPlatformFirmware
{
    private const ulong DevHandleBase = 0x5EC0_0000_0000, TdiHandleBase = 0x5EC1_0000_0000;
    private readonly List<DeviceContext?> _devices = [];
    private readonly List<TdiContext?> _tdis = [];
    private readonly Dictionary<uint, GuestContext> _guests = [];
    private readonly Dictionary<uint, byte[]> _deviceTable = [];
    private IPspDeviceRoute _route = NoDeviceRoute.Instance;
    private Tracing.TraceLog? _trace;
    private readonly byte[] _seed;
    private readonly byte[] _payload = new byte[SnpGuestMessage.MaxPayload];
    private readonly byte[] _answer = new byte[SnpGuestMessage.MaxPayload];
    private bool _initialised;

    /// <param name="memory">The machine's physical memory, which command buffers point into.</param>
    /// <param name="rmp">The machine's RMP (a fresh one when null).</param>
    /// <param name="seed">Derives VMPCKs and IDE keys (HKDF-SHA-384); a fixed default keeps runs reproducible.</param>
    public PspFirmware(PhysicalMemory memory, Rmp? rmp = null, byte[]? seed = null)
    {
        Memory = memory;
        Rmp = rmp ?? new Rmp();
        _seed = seed ?? "tsmlab-psp"u8.ToArray();
    }

    /// <summary>A PSP whose device traffic goes through <paramref name="route"/> from the start (firmware-level tests).</summary>
    public PspFirmware(IPspDeviceRoute route, PhysicalMemory memory, Rmp rmp, byte[]? seed = null) : this(memory, rmp, seed) => AttachHostRoute(route);

    /// <inheritdoc/>
    public string Name => "PSP";

    /// <summary>The host driver offers to carry the PSP's SPDM/DOE traffic (SEV_RET_SPDM_REQUEST); until then no device is reachable.</summary>
    public void AttachHostRoute(IPspDeviceRoute route) => _route = route;

    /// <inheritdoc/>
    public void AttachTrace(Tracing.TraceLog? log) => _trace = log;

    public PhysicalMemory Memory { get; }
    public Rmp Rmp { get; }
    public byte TioVersion { get; set; } = TioMessageVersion.Current;
    /// <summary>Why the last refused guest message was refused.</summary>
    public GuestMessageRefusal LastRefusal { get; private set; }
    /// <summary>Commands executed, by id (for tests and traces).</summary>
    public List<PspCommandId> Log { get; } = [];

    /// <summary>
    /// Rings the mailbox: runs <paramref name="id"/> with the command buffer
    /// <paramref name="buffer"/> (outputs are written back into it). Never throws for bad input.
    /// </summary>
    public PspStatus Command(PspCommandId id, Span<byte> buffer)
    {
        if (Faults.FaultPlan.Fail(Faults.FaultPoint.FirmwareCall, $"PSP {id}")) return PspStatus.DeviceError;
        var log = _trace;
        if (log is null) return Run(id, buffer);
        long seq = log.Reserve();
        var status = Run(id, buffer);
        log.Record(seq, Tracing.TraceLayer.Kernel, Tracing.TraceLayer.Firmware, Tracing.TraceKind.FirmwareCall, $"SEV_CMD_{id}",
            status.ToString(), new("command", $"0x{(uint)id:x}"), new("length", buffer.Length.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        return status;
    }


    private PspStatus Run(PspCommandId id, Span<byte> buffer)
    {
        Log.Add(id);
        if (buffer.Length < 8 || Le.U32(buffer, PspCommandBuffer.Length) != (uint)buffer.Length) return PspStatus.InvalidLength;
        if (id != PspCommandId.TioInit && id != PspCommandId.TioStatus && !_initialised) return PspStatus.InvalidPlatformState;
        foreach (var row in Commands)
            if (row.Id == id) return buffer.Length != row.Size ? PspStatus.InvalidLength : row.Handler(this, buffer);
        return PspStatus.InvalidCommand;
    }

    /// <summary>One PSP command the firmware serves: its id, its command buffer's exact size, and its handler.</summary>
    private sealed record PspCommand(PspCommandId Id, int Size, Handler Handler);

    /// <summary>The commands, as one table (an unknown id is INVALID_COMMAND; a buffer of another size INVALID_LENGTH).</summary>
    private static readonly PspCommand[] Commands =
    [
        new(PspCommandId.TioStatus, PspCommandBuffer.TioStatus.Size, static (p, b) => p.TioStatus(b)),
        new(PspCommandId.TioInit, PspCommandBuffer.TioInit.Size, static (p, b) => p.TioInit(b)),
        new(PspCommandId.DevCreate, PspCommandBuffer.DevCreate.Size, static (p, b) => p.DevCreate(b)),
        new(PspCommandId.DevReclaim, PspCommandBuffer.DevCtxOnly.Size, static (p, b) => p.DevReclaim(b)),
        new(PspCommandId.DevConnect, PspCommandBuffer.DevCtxOnly.Size, static (p, b) => p.DevConnect(b)),
        new(PspCommandId.DevDisconnect, PspCommandBuffer.DevCtxOnly.Size, static (p, b) => p.DevDisconnect(b)),
        new(PspCommandId.DevStatus, PspCommandBuffer.DevStatus.Size, static (p, b) => p.DevStatus(b)),
        new(PspCommandId.DevMeasurements, PspCommandBuffer.DevMeasurements.Size, static (p, b) => p.DevMeasurements(b)),
        new(PspCommandId.DevCertificates, PspCommandBuffer.DevCertificates.Size, static (p, b) => p.DevCertificates(b)),
        new(PspCommandId.TdiCreate, PspCommandBuffer.TdiCreate.Size, static (p, b) => p.TdiCreate(b)),
        new(PspCommandId.TdiReclaim, PspCommandBuffer.TdiCtxOnly.Size, static (p, b) => p.TdiReclaim(b)),
        new(PspCommandId.TdiBind, PspCommandBuffer.TdiBind.Size, static (p, b) => p.TdiBind(b)),
        new(PspCommandId.TdiUnbind, PspCommandBuffer.TdiCtxOnly.Size, static (p, b) => p.TdiUnbind(b)),
        new(PspCommandId.TdiReport, PspCommandBuffer.TdiReport.Size, static (p, b) => p.TdiReport(b)),
        new(PspCommandId.TdiStatus, PspCommandBuffer.TdiStatus.Size, static (p, b) => p.TdiStatus(b)),
        new(PspCommandId.TdiInfo, PspCommandBuffer.TdiInfo.Size, static (p, b) => p.TdiInfo(b)),
        new(PspCommandId.GuestRequest, PspCommandBuffer.GuestRequest.Size, static (p, b) => p.GuestRequest(b)),
    ];

    /// <summary>
    /// Stands for SNP_LAUNCH_START (launch is not modelled): creates the guest context of
    /// <paramref name="asid"/> if needed and returns VMPCK0 as the secrets page carries it into the
    /// guest. Only the guest model's harness calls this; the host driver never does.
    /// </summary>
    public byte[]? LaunchGuest(uint asid)
    {
        if (asid == 0) return null;
        if (!_guests.ContainsKey(asid)) _guests[asid] = new GuestContext(asid, Derive($"vmpck0/{asid}", SnpGuestMessage.KeySize));
        return GuestSecretsVmpck0(asid);
    }

    /// <summary>
    /// The guest's secrets page as SNP launch fills it: VMPCK0 of <paramref name="asid"/>, or
    /// null when the PSP has no context for it. Only the guest model may call this (launch is
    /// not modelled; the host never sees the page).
    /// </summary>
    public byte[]? GuestSecretsVmpck0(uint asid) => _guests.TryGetValue(asid, out var g) ? (byte[])g.Vmpck0.Clone() : null;

    /// <summary>The SDTE the IOMMU hardware reads for a function (the secure device table is firmware-owned; the IOMMU walks it, the host cannot write it).</summary>
    public bool TryReadSdte(uint functionId, Span<byte> sdte)
    {
        if (!_deviceTable.TryGetValue(functionId, out var e)) { sdte[..Sdte.Size].Clear(); return false; }
        e.CopyTo(sdte);
        return true;
    }

    /// <summary>The firmware's bind state of the TDI for a function, or Unbound.</summary>
    public TdiFirmwareState StateOf(uint functionId) =>
        _tdis.FirstOrDefault(t => t is not null && t.Function.Value == functionId)?.State ?? TdiFirmwareState.Unbound;

    private delegate PspStatus Handler(PspFirmware psp, Span<byte> buffer);

    private PspStatus TioStatus(Span<byte> b)
    {
        Le.Put32(b, PspCommandBuffer.TioStatus.OutFlags, _initialised ? 1u : 0u);
        Le.Put32(b, PspCommandBuffer.TioStatus.OutDevices, (uint)_devices.Count(d => d is not null));
        return PspStatus.Success;
    }

    private PspStatus TioInit(Span<byte> b)
    {
        if (_initialised) return PspStatus.InvalidPlatformState;
        _initialised = true;
        return PspStatus.Success;
    }

    private PspStatus DevCreate(Span<byte> b)
    {
        uint deviceId = Le.U32(b, PspCommandBuffer.DevCreate.DeviceId);
        if (_devices.Any(d => d?.DeviceId == deviceId)) return PspStatus.AlreadyOwned;
        if (_route.Transport(deviceId) is null) return PspStatus.InvalidParam;
        int slot = _devices.IndexOf(null);
        if (slot < 0) { slot = _devices.Count; _devices.Add(null); }
        var dev = new DeviceContext(DevHandleBase + (ulong)slot, deviceId, b[PspCommandBuffer.DevCreate.StreamId]);
        _devices[slot] = dev;
        Le.Put64(b, PspCommandBuffer.DevCreate.OutDevCtx, dev.Handle);
        return PspStatus.Success;
    }

    private PspStatus DevReclaim(Span<byte> b)
    {
        if (FindDevice(Le.U64(b, PspCommandBuffer.DevCtxOnly.DevCtx)) is not { } dev) return PspStatus.InvalidParam;
        if (dev.Connected || dev.Tdis > 0) return PspStatus.InvalidGuestState;
        _devices[(int)(dev.Handle - DevHandleBase)] = null;
        return PspStatus.Success;
    }

    /// <summary>DEV_CONNECT: TDISP version and capabilities, then IDE_KM keys for the stream, programmed and started [D4].</summary>
    private PspStatus DevConnect(Span<byte> b)
    {
        if (FindDevice(Le.U64(b, PspCommandBuffer.DevCtxOnly.DevCtx)) is not { } dev) return PspStatus.InvalidParam;
        if (dev.Connected) return PspStatus.InvalidGuestState;
        var transport = _route.Transport(dev.DeviceId);
        var collateral = _route.Collateral(dev.DeviceId);
        if (transport is null || collateral is null) return PspStatus.DeviceError;
        var requester = new TdispRequester(transport);
        var pf = TdiFunctionId.FromRid((ushort)dev.DeviceId);
        var version = requester.GetVersion(pf);
        if (!version.IsSuccess || !version.Value!.Contains(TdispHeader.Version10)) return PspStatus.DeviceError;
        if (!requester.GetCapabilities(pf).IsSuccess) return PspStatus.DeviceError;
        byte streamId = dev.StreamId;
        if (!requester.ProgramAndStartStream(streamId, 0, 0, slot => Derive($"ide/{dev.DeviceId:x}/{streamId}/{slot.Value}", 40)))
            return PspStatus.DeviceError;
        dev.Requester = requester;
        dev.Certificates = collateral.CertificateChain;
        dev.MeasurementRecord = [.. collateral.MeasurementBlocks.SelectMany(m => m)];
        dev.Measurements = [.. new byte[32], .. dev.MeasurementRecord];
        dev.MeasurementsFresh = false;
        dev.Connected = true;
        return PspStatus.Success;
    }

    private PspStatus DevDisconnect(Span<byte> b)
    {
        if (FindDevice(Le.U64(b, PspCommandBuffer.DevCtxOnly.DevCtx)) is not { } dev) return PspStatus.InvalidParam;
        if (!dev.Connected || dev.Tdis > 0) return PspStatus.InvalidGuestState;
        foreach (var dir in (ReadOnlySpan<IdeKeyDirection>)[IdeKeyDirection.Receive, IdeKeyDirection.Transmit])
            foreach (var ss in (ReadOnlySpan<IdeSubStream>)[IdeSubStream.PostedRequest, IdeSubStream.NonPostedRequest, IdeSubStream.Completion])
                dev.Requester!.KeySetStop(dev.StreamId, IdeKeySubStream.Create(0, dir, ss), 0);
        dev.Connected = false;
        dev.Requester = null;
        return PspStatus.Success;
    }

    private PspStatus DevStatus(Span<byte> b)
    {
        if (FindDevice(Le.U64(b, PspCommandBuffer.DevStatus.DevCtx)) is not { } dev) return PspStatus.InvalidParam;
        Le.Put32(b, PspCommandBuffer.DevStatus.OutFlags, dev.Connected ? PspCommandBuffer.DevStatus.Connected : 0);
        Le.Put32(b, PspCommandBuffer.DevStatus.OutTdis, (uint)dev.Tdis);
        return PspStatus.Success;
    }

    /// <summary>DEV_MEASUREMENTS: the measurement blob is nonce[32] (zero without one) then the DMTF record (TsmLab definition).</summary>
    private PspStatus DevMeasurements(Span<byte> b)
    {
        if (FindDevice(Le.U64(b, PspCommandBuffer.DevMeasurements.DevCtx)) is not { } dev) return PspStatus.InvalidParam;
        if (!dev.Connected) return PspStatus.InvalidGuestState;
        uint flags = Le.U32(b, PspCommandBuffer.DevMeasurements.Flags);
        if ((flags & ~PspCommandBuffer.DevMeasurements.FlagNonce) != 0) return PspStatus.InvalidParam;
        byte[] blob = [.. b.Slice(PspCommandBuffer.DevMeasurements.Nonce, 32), .. dev.MeasurementRecord];
        if ((flags & PspCommandBuffer.DevMeasurements.FlagNonce) == 0) blob.AsSpan(0, 32).Clear();
        var rc = WriteOut(b, PspCommandBuffer.DevMeasurements.OutPaddr, PspCommandBuffer.DevMeasurements.OutLen, blob);
        if (rc != PspStatus.Success) return rc;
        dev.Measurements = blob;
        dev.MeasurementsFresh = (flags & PspCommandBuffer.DevMeasurements.FlagNonce) != 0;
        return PspStatus.Success;
    }

    private PspStatus DevCertificates(Span<byte> b)
    {
        if (FindDevice(Le.U64(b, PspCommandBuffer.DevCertificates.DevCtx)) is not { } dev) return PspStatus.InvalidParam;
        if (!dev.Connected) return PspStatus.InvalidGuestState;
        return WriteOut(b, PspCommandBuffer.DevCertificates.OutPaddr, PspCommandBuffer.DevCertificates.OutLen, dev.Certificates);
    }

    private PspStatus TdiCreate(Span<byte> b)
    {
        if (FindDevice(Le.U64(b, PspCommandBuffer.TdiCreate.DevCtx)) is not { } dev) return PspStatus.InvalidParam;
        if (!dev.Connected) return PspStatus.InvalidGuestState;
        uint asid = Le.U32(b, PspCommandBuffer.TdiCreate.Asid);
        if (asid == 0) return PspStatus.InvalidGuest;
        var function = new TdiFunctionId(Le.U32(b, PspCommandBuffer.TdiCreate.FunctionId));
        if (_tdis.Any(t => t is not null && t.Function == function)) return PspStatus.AlreadyOwned;
        uint guestRid = Le.U32(b, PspCommandBuffer.TdiCreate.GuestRid);
        if (_tdis.Any(t => t is not null && t.Asid == asid && t.GuestRid == guestRid)) return PspStatus.AlreadyOwned;
        int slot = _tdis.IndexOf(null);
        if (slot < 0) { slot = _tdis.Count; _tdis.Add(null); }
        if (!_guests.ContainsKey(asid)) _guests[asid] = new GuestContext(asid, Derive($"vmpck0/{asid}", SnpGuestMessage.KeySize));
        var tdi = new TdiContext(TdiHandleBase + (ulong)slot, dev, function, guestRid, asid);
        _tdis[slot] = tdi;
        dev.Tdis++;
        Le.Put64(b, PspCommandBuffer.TdiCreate.OutTdiCtx, tdi.Handle);
        return PspStatus.Success;
    }

    private PspStatus TdiReclaim(Span<byte> b)
    {
        if (FindTdi(Le.U64(b, PspCommandBuffer.TdiCtxOnly.TdiCtx)) is not { } tdi) return PspStatus.InvalidParam;
        if (tdi.State != TdiFirmwareState.Unbound) return PspStatus.InvalidGuestState;
        _tdis[(int)(tdi.Handle - TdiHandleBase)] = null;
        tdi.Device.Tdis--;
        return PspStatus.Success;
    }

    /// <summary>
    /// TDI_BIND: LOCK_INTERFACE with the given flags and the device's stream, then the whole
    /// interface report (CONFIG_LOCKED, BIND_LOCKED). With FlagRun (SEV_TIO_OP RUN, TsmLab):
    /// START_INTERFACE with the lock's nonce (RUN, BIND_RUN).
    /// </summary>
    private PspStatus TdiBind(Span<byte> b)
    {
        if (FindTdi(Le.U64(b, PspCommandBuffer.TdiBind.TdiCtx)) is not { } tdi) return PspStatus.InvalidParam;
        uint flags = Le.U32(b, PspCommandBuffer.TdiBind.Flags);
        var requester = tdi.Device.Requester!;
        if ((flags & PspCommandBuffer.TdiBind.FlagRun) != 0)
        {
            if ((flags & ~PspCommandBuffer.TdiBind.FlagRun) != 0) return PspStatus.InvalidParam;
            if (tdi.State != TdiFirmwareState.BindLocked) return PspStatus.InvalidGuestState;
            if (!requester.StartInterface(tdi.Function, tdi.StartNonce).IsSuccess) return PspStatus.DeviceError;
            tdi.State = TdiFirmwareState.BindRun;
            return PspStatus.Success;
        }
        if ((flags & ~PspCommandBuffer.TdiBind.LockFlagMask) != 0) return PspStatus.InvalidParam;
        if (tdi.State != TdiFirmwareState.Unbound) return PspStatus.InvalidGuestState;
        var nonce = requester.LockInterface(tdi.Function, new LockInterfaceParameters((LockInterfaceFlags)flags, tdi.Device.StreamId, 0));
        if (!nonce.IsSuccess) return PspStatus.DeviceError;
        var report = requester.GetInterfaceReport(tdi.Function);
        if (!report.IsSuccess)
        {
            requester.StopInterface(tdi.Function);
            return PspStatus.DeviceError;
        }
        tdi.StartNonce = nonce.Value!;
        tdi.Report = report.Value!.Bytes;
        tdi.Ranges = [.. report.Value.Ranges];
        tdi.LockFlags = flags;
        tdi.ReportCount++;
        tdi.State = TdiFirmwareState.BindLocked;
        return PspStatus.Success;
    }

    /// <summary>TDI_UNBIND: STOP_INTERFACE, the TDI's MMIO pages invalidated in the RMP, its SDTE cleared.</summary>
    private PspStatus TdiUnbind(Span<byte> b)
    {
        if (FindTdi(Le.U64(b, PspCommandBuffer.TdiCtxOnly.TdiCtx)) is not { } tdi) return PspStatus.InvalidParam;
        if (tdi.State == TdiFirmwareState.Unbound) return PspStatus.InvalidGuestState;
        tdi.Device.Requester!.StopInterface(tdi.Function);
        foreach (var r in tdi.Ranges) Rmp.InvalidateMmio(tdi.Asid, r.FirstPage, (ulong)r.NumberOfPages * 4096);
        _deviceTable.Remove(tdi.Function.Value);
        tdi.State = TdiFirmwareState.Unbound;
        tdi.StartNonce = [];
        tdi.Report = [];
        tdi.Ranges = [];
        return PspStatus.Success;
    }

    private PspStatus TdiReport(Span<byte> b)
    {
        if (FindTdi(Le.U64(b, PspCommandBuffer.TdiReport.TdiCtx)) is not { } tdi) return PspStatus.InvalidParam;
        if (tdi.State == TdiFirmwareState.Unbound) return PspStatus.InvalidGuestState;
        return WriteOut(b, PspCommandBuffer.TdiReport.OutPaddr, PspCommandBuffer.TdiReport.OutLen, tdi.Report);
    }

    private PspStatus TdiStatus(Span<byte> b)
    {
        if (FindTdi(Le.U64(b, PspCommandBuffer.TdiStatus.TdiCtx)) is not { } tdi) return PspStatus.InvalidParam;
        var state = tdi.Device.Requester?.GetState(tdi.Function) ?? default;
        Le.Put32(b, PspCommandBuffer.TdiStatus.OutState, (uint)tdi.State);
        Le.Put32(b, PspCommandBuffer.TdiStatus.OutTdispState, state.IsSuccess ? (uint)state.Value : (uint)TdiState.Error);
        return PspStatus.Success;
    }

    private PspStatus TdiInfo(Span<byte> b)
    {
        if (FindTdi(Le.U64(b, PspCommandBuffer.TdiInfo.TdiCtx)) is not { } tdi) return PspStatus.InvalidParam;
        Le.Put32(b, PspCommandBuffer.TdiInfo.OutP1, (uint)tdi.State << 2);
        return PspStatus.Success;
    }

    private PspStatus WriteOut(Span<byte> b, int paddrOffset, int lenOffset, ReadOnlySpan<byte> bytes)
    {
        uint capacity = Le.U32(b, lenOffset);
        Le.Put32(b, lenOffset, (uint)bytes.Length);
        if (capacity < (uint)bytes.Length) return PspStatus.InvalidLength;
        if (!Memory.TryGet(Le.U64(b, paddrOffset), bytes.Length, out var dst)) return PspStatus.InvalidAddress;
        bytes.CopyTo(dst);
        return PspStatus.Success;
    }

    private DeviceContext? FindDevice(ulong handle)
    {
        ulong i = handle - DevHandleBase;
        return i < (ulong)_devices.Count ? _devices[(int)i] : null;
    }

    private TdiContext? FindTdi(ulong handle)
    {
        ulong i = handle - TdiHandleBase;
        return i < (ulong)_tdis.Count ? _tdis[(int)i] : null;
    }

    private byte[] Derive(string label, int length) =>
        HKDF.DeriveKey(HashAlgorithmName.SHA384, _seed, length, salt: "tsmlab-sev-tio"u8.ToArray(), info: System.Text.Encoding.ASCII.GetBytes(label));
}
