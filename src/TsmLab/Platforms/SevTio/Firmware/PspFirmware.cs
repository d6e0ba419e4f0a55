using System.Security.Cryptography;
using TsmLab.Hardware;
using TsmLab.Spdm.Requester;
using TsmLab.Tdisp.Requester;
using TsmLab.Tdisp.Wire;
using TsmLab.Platforms.SevTio.Abi;
using System.Buffers.Binary;

namespace TsmLab.Platforms.SevTio.Firmware;

/// <summary>The PSP firmware model (SEV-TIO).</summary>
/// <remarks>
/// The AMD PSP running SEV-TIO firmware: the TIO commands a host driver issues, each with the
/// command buffer the public host driver defines [S5] and a status (PspStatus [S6]); device and TDI
/// contexts in pages the host donates, named by SLA; SPDM-aware commands' output objects in
/// spdm_ctrl.output; the device reached only through TDISP/IDE_KM bytes over the host's DOE route;
/// the RMP and the secure device table it guards; and the guest contexts whose VMPCKs never leave
/// it (except into the guest's secrets page at launch). Every command validates fully before
/// changing anything: a failing command changes nothing. Thread safety: the mailbox is one command
/// at a time (as the PSP's is); _gate serialises Command and the launch stand-ins and guards every
/// context table.
/// </remarks>
public sealed partial class PspFirmware : IPlatformFirmware
{
    /// <summary>What TIO_STATUS reports (TsmLab values; the driver sizes its buffers from them): one page per context and SPDM buffer, output up to 64 KiB.</summary>
    public const int ContextSize = PhysicalMemory.PageSize, SpdmBufferSize = PhysicalMemory.PageSize, SpdmOutputMin = PhysicalMemory.PageSize, SpdmOutputMax = 16 * PhysicalMemory.PageSize;

    /// <summary>Guards all PSP state: the PSP processes one command at a time (the host serialises them too).</summary>
    private readonly Lock gate = new();
    private readonly Dictionary<ulong, DeviceContext> devices = [];
    private readonly Dictionary<ulong, TdiContext> tdis = [];
    /// <summary>(guest ASID, guest_device_id) of every bound TDI: TDI_BIND's uniqueness check without walking the TDIs.</summary>
    private readonly HashSet<(uint Asid, uint GuestRid)> boundGuestRids = [];
    /// <summary>The same TDI contexts by TDISP function id (TDI_CREATE refuses a second per function), so a look-up by function does not walk them all.</summary>
    private readonly Dictionary<uint, TdiContext> tdisByFunction = [];
    private readonly Dictionary<uint, GuestContext> guests = [];
    private readonly Dictionary<ulong, GuestContext> guestsByGctx = [];
    private readonly Dictionary<uint, byte[]> deviceTable = [];
    private IPspDeviceRoute route = NoDeviceRoute.Instance;
    private Tracing.TraceLog? trace;
    private readonly byte[] seed;
    private readonly byte[] payload = new byte[SnpGuestMessage.MaxPayload];
    private readonly byte[] answer = new byte[SnpGuestMessage.MaxPayload];
    private bool initialised;

    /// <param name="memory">The machine's physical memory, which command buffers point into.</param>
    /// <param name="rmp">The machine's RMP (a fresh one when null).</param>
    /// <param name="seed">Derives VMPCKs and IDE keys (HKDF-SHA-384); a fixed default keeps runs reproducible.</param>
    public PspFirmware(PhysicalMemory memory, Rmp? rmp = null, byte[]? seed = null)
    {
        Memory = memory;
        Rmp = rmp ?? new Rmp();
        this.seed = seed ?? "tsmlab-psp"u8.ToArray();
    }

    /// <summary>A PSP whose device traffic goes through <paramref name="route"/> from the start (firmware-level tests).</summary>
    public PspFirmware(IPspDeviceRoute route, PhysicalMemory memory, Rmp rmp, byte[]? seed = null) : this(memory, rmp, seed) => AttachHostRoute(route);

    /// <inheritdoc/>
    public string Name => "PSP";

    /// <summary>The host driver offers to carry the PSP's DOE traffic; until then no device is reachable.</summary>
    public void AttachHostRoute(IPspDeviceRoute route) => this.route = route;

    /// <inheritdoc/>
    public void AttachTrace(Tracing.TraceLog? log) => trace = log;

    public PhysicalMemory Memory { get; }
    public Rmp Rmp { get; }
    public byte TioVersion { get; set; } = TioMessageVersion.Current;
    /// <summary>Why the last refused guest message was refused.</summary>
    public GuestMessageRefusal LastRefusal { get; private set; }
    /// <summary>Commands executed, by id (for tests and traces).</summary>
    public List<PspCommandId> Log { get; } = [];

    /// <summary>
    /// Rings the mailbox: runs <paramref name="id"/> with the command buffer
    /// <paramref name="buffer"/>. Never throws for bad input.
    /// </summary>
    public PspStatus Command(PspCommandId id, Span<byte> buffer)
    {
        if (Faults.FaultPlan.Armed && Faults.FaultPlan.Fail(Faults.FaultPoint.FirmwareCall, $"PSP {id}")) return PspStatus.SpdmError;
        lock (gate)
        {
            var log = trace;
            if (log is null) return Run(id, buffer);
            long seq = log.Reserve();
            var status = Run(id, buffer);
            log.Record(seq, Tracing.TraceLayer.Kernel, Tracing.TraceLayer.Firmware, Tracing.TraceKind.FirmwareCall, $"SEV_CMD_{id}",
                status.ToString(), new("command", $"0x{(uint)id:x}"), new("length", buffer.Length.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            return status;
        }
    }

    private PspStatus Run(PspCommandId id, Span<byte> buffer)
    {
        Log.Add(id);
        if (buffer.Length < 8 || BinaryPrimitives.ReadUInt32LittleEndian(buffer[PspCommandBuffer.Length..]) != (uint)buffer.Length) return PspStatus.InvalidLength;
        if (id != PspCommandId.TioInit && id != PspCommandId.TioStatus && !initialised) return PspStatus.InvalidPlatformState;
        foreach (var row in Commands)
            if (row.Id == id) return buffer.Length != row.Size ? PspStatus.InvalidLength : row.Handler(this, buffer);
        return PspStatus.InvalidCommand;
    }

    /// <summary>One PSP command the firmware serves: its id, its command buffer's exact size [S5], and its handler.</summary>
    private sealed record PspCommand(PspCommandId Id, int Size, Handler Handler);

    /// <summary>The commands, as one table (an unknown id is INVALID_COMMAND; a buffer of another size INVALID_LENGTH).</summary>
    private static readonly PspCommand[] Commands =
    [
        new(PspCommandId.TioStatus, PspCommandBuffer.TioStatus.Size, static (p, b) => p.TioStatus(b)),
        new(PspCommandId.TioInit, PspCommandBuffer.TioInit.Size, static (p, b) => p.TioInit(b)),
        new(PspCommandId.DevCreate, PspCommandBuffer.DevCreate.Size, static (p, b) => p.DevCreate(b)),
        new(PspCommandId.DevReclaim, PspCommandBuffer.DevReclaim.Size, static (p, b) => p.DevReclaim(b)),
        new(PspCommandId.DevConnect, PspCommandBuffer.DevConnect.Size, static (p, b) => p.DevConnect(b)),
        new(PspCommandId.DevDisconnect, PspCommandBuffer.DevDisconnect.Size, static (p, b) => p.DevDisconnect(b)),
        new(PspCommandId.DevStatus, PspCommandBuffer.DevStatus.Size, static (p, b) => p.DevStatus(b)),
        new(PspCommandId.DevMeasurements, PspCommandBuffer.DevMeasurements.Size, static (p, b) => p.DevMeasurements(b)),
        new(PspCommandId.DevCertificates, PspCommandBuffer.DevCertificates.Size, static (p, b) => p.DevCertificates(b)),
        new(PspCommandId.TdiCreate, PspCommandBuffer.TdiCreate.Size, static (p, b) => p.TdiCreate(b)),
        new(PspCommandId.TdiReclaim, PspCommandBuffer.TdiReclaim.Size, static (p, b) => p.TdiReclaim(b)),
        new(PspCommandId.TdiBind, PspCommandBuffer.TdiBind.Size, static (p, b) => p.TdiBind(b)),
        new(PspCommandId.TdiUnbind, PspCommandBuffer.TdiUnbind.Size, static (p, b) => p.TdiUnbind(b)),
        new(PspCommandId.TdiReport, PspCommandBuffer.TdiReport.Size, static (p, b) => p.TdiReport(b)),
        new(PspCommandId.TdiStatus, PspCommandBuffer.TdiStatus.Size, static (p, b) => p.TdiStatus(b)),
        new(PspCommandId.TdiInfo, PspCommandBuffer.TdiInfo.Size, static (p, b) => p.TdiInfo(b)),
        new(PspCommandId.GuestRequest, PspCommandBuffer.GuestRequest.Size, static (p, b) => p.GuestRequest(b)),
    ];

    /// <summary>The command ids the model serves with their buffer sizes (for the ABI table).</summary>
    public static IEnumerable<(PspCommandId Id, int Size)> Served => Commands.Select(c => (c.Id, c.Size));

    /// <summary>
    /// Stands for SNP launch (not modelled): creates the guest context of <paramref name="asid"/>
    /// if needed and returns VMPCK0 as the secrets page carries it into the guest. Only the guest
    /// model's harness calls this; the host driver never does.
    /// </summary>
    public byte[]? LaunchGuest(uint asid)
    {
        if (asid == 0) return null;
        lock (gate) return (byte[])Guest(asid).Vmpck0.Clone();
    }

    /// <summary>
    /// Stands for KVM's SNP_GCTX_CREATE / SNP_LAUNCH_START (not modelled; TsmLab): the guest
    /// context of <paramref name="asid"/> lives in the page at <paramref name="gctxPaddr"/>, which
    /// TDI_BIND, TDI_UNBIND, TDI_REPORT and GUEST_REQUEST then name. INVALID_ADDRESS when the page
    /// is not in memory; ALREADY_OWNED when it already holds a context.
    /// </summary>
    public PspStatus SnpLaunchStart(ulong gctxPaddr, uint asid)
    {
        if (asid == 0) return PspStatus.InvalidGuest;
        lock (gate)
        {
            if (!Memory.TryPage(gctxPaddr, out _)) return PspStatus.InvalidAddress;
            if (guestsByGctx.ContainsKey(gctxPaddr) || devices.ContainsKey(gctxPaddr) || tdis.ContainsKey(gctxPaddr)) return PspStatus.AlreadyOwned;
            var g = Guest(asid);
            if (g.Gctx != 0) return PspStatus.AlreadyOwned;
            g.Gctx = gctxPaddr;
            guestsByGctx[gctxPaddr] = g;
            return PspStatus.Success;
        }
    }

    private GuestContext Guest(uint asid)
    {
        if (!guests.TryGetValue(asid, out var g)) guests[asid] = g = new GuestContext(asid, Derive($"vmpck0/{asid}", SnpGuestMessage.KeySize));
        return g;
    }

    /// <summary>
    /// The guest's secrets page as SNP launch fills it: VMPCK0 of <paramref name="asid"/>, or
    /// null when the PSP has no context for it. Only the guest model may call this.
    /// </summary>
    public byte[]? GuestSecretsVmpck0(uint asid)
    {
        lock (gate) return guests.TryGetValue(asid, out var g) ? (byte[])g.Vmpck0.Clone() : null;
    }

    /// <summary>The SDTE the IOMMU hardware reads for a function (the secure device table is firmware-owned; the IOMMU walks it, the host cannot write it).</summary>
    public bool TryReadSdte(uint functionId, Span<byte> sdte)
    {
        lock (gate)
        {
            if (!deviceTable.TryGetValue(functionId, out var e)) { sdte[..Sdte.Size].Clear(); return false; }
            e.CopyTo(sdte);
            return true;
        }
    }

    /// <summary>The firmware's bind state of the TDI for a function, or Unbound.</summary>
    public TdiFirmwareState StateOf(uint functionId)
    {
        lock (gate) return tdisByFunction.GetValueOrDefault(functionId)?.State ?? TdiFirmwareState.Unbound;
    }

    private delegate PspStatus Handler(PspFirmware psp, Span<byte> buffer);

    /// <summary>TIO_STATUS: struct sev_tio_status at status_paddr (tio_en always; tio_init_done after TIO_INIT).</summary>
    private PspStatus TioStatus(Span<byte> b)
    {
        if (!Memory.TryGet(BinaryPrimitives.ReadUInt64LittleEndian(b[PspCommandBuffer.TioStatus.StatusPaddr..]), TioStatusData.Size, out var s)) return PspStatus.InvalidAddress;
        s.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(s[TioStatusData.Length..], TioStatusData.Size);
        BinaryPrimitives.WriteUInt32LittleEndian(s[TioStatusData.Flags..], TioStatusData.TioEn | (initialised ? TioStatusData.TioInitDone : 0));
        BinaryPrimitives.WriteUInt32LittleEndian(s[TioStatusData.SpdmReqSizeMin..], SpdmBufferSize);
        BinaryPrimitives.WriteUInt32LittleEndian(s[TioStatusData.SpdmReqSizeMax..], SpdmBufferSize);
        BinaryPrimitives.WriteUInt32LittleEndian(s[TioStatusData.SpdmScratchSizeMin..], SpdmBufferSize);
        BinaryPrimitives.WriteUInt32LittleEndian(s[TioStatusData.SpdmScratchSizeMax..], SpdmBufferSize);
        BinaryPrimitives.WriteUInt32LittleEndian(s[TioStatusData.SpdmOutSizeMin..], SpdmOutputMin);
        BinaryPrimitives.WriteUInt32LittleEndian(s[TioStatusData.SpdmOutSizeMax..], SpdmOutputMax);
        BinaryPrimitives.WriteUInt32LittleEndian(s[TioStatusData.SpdmRspSizeMin..], SpdmBufferSize);
        BinaryPrimitives.WriteUInt32LittleEndian(s[TioStatusData.SpdmRspSizeMax..], SpdmBufferSize);
        BinaryPrimitives.WriteUInt32LittleEndian(s[TioStatusData.DevctxSize..], ContextSize);
        BinaryPrimitives.WriteUInt32LittleEndian(s[TioStatusData.TdictxSize..], ContextSize);
        return PspStatus.Success;
    }

    private PspStatus TioInit(Span<byte> b)
    {
        if (initialised) return PspStatus.InvalidPlatformState;
        initialised = true;
        return PspStatus.Success;
    }

    /// <summary>A context page the host donates: a 4 KiB data-page SLA of memory no context holds yet.</summary>
    private PspStatus DonatedPage(ulong sla, out ulong page)
    {
        page = 0;
        if (sla == SlaAddress.Null || !SlaAddress.TryDecode(sla, out page, out bool scatter, out bool large) || scatter || large) return PspStatus.InvalidParam;
        if (!Memory.TryPage(page, out _)) return PspStatus.InvalidAddress;
        if (devices.ContainsKey(page) || tdis.ContainsKey(page) || guestsByGctx.ContainsKey(page)) return PspStatus.AlreadyOwned;
        return PspStatus.Success;
    }

    private DeviceContext? FindDevice(ulong sla) =>
        SlaAddress.TryDecode(sla, out ulong page, out bool s, out bool l) && !s && !l && devices.TryGetValue(page, out var d) ? d : null;

    /// <summary>The TDI named by the buffer's tdi_ctx_sla, which must belong to the device its dev_ctx_sla names (else INVALID_PARAM).</summary>
    private TdiContext? FindTdi(ReadOnlySpan<byte> b, int devOffset, int tdiOffset) =>
        SlaAddress.TryDecode(BinaryPrimitives.ReadUInt64LittleEndian(b[tdiOffset..]), out ulong page, out bool s, out bool l) && !s && !l && tdis.TryGetValue(page, out var t) &&
        FindDevice(BinaryPrimitives.ReadUInt64LittleEndian(b[devOffset..])) == t.Device ? t : null;

    /// <summary>The spdm_ctrl block of an SPDM-aware command: req, resp, scratch and output must each name a buffer (INVALID_PARAM / INVALID_ADDRESS).</summary>
    private PspStatus CheckSpdmCtrl(ReadOnlySpan<byte> b, int offset)
    {
        for (int i = 0; i < PspCommandBuffer.SpdmCtrl.Size; i += 8)
        {
            ulong sla = BinaryPrimitives.ReadUInt64LittleEndian(b[(offset + i)..]);
            if (sla == SlaAddress.Null || !SlaAddress.TryDecode(sla, out ulong pa, out _, out bool large) || large) return PspStatus.InvalidParam;
            if (!Memory.TryPage(pa, out _)) return PspStatus.InvalidAddress;
        }
        return PspStatus.Success;
    }

    private PspStatus DevCreate(Span<byte> b)
    {
        var rc = DonatedPage(BinaryPrimitives.ReadUInt64LittleEndian(b[PspCommandBuffer.DevCreate.DevCtxSla..]), out ulong page);
        if (rc != PspStatus.Success) return rc;
        ushort rid = BinaryPrimitives.ReadUInt16LittleEndian(b[PspCommandBuffer.DevCreate.DeviceId..]);
        byte segment = b[PspCommandBuffer.DevCreate.SegmentId];
        uint deviceId = (uint)segment << 16 | rid;
        if (devices.Values.Any(d => d.DeviceId == deviceId)) return PspStatus.AlreadyOwned;
        if (route.Mailbox(deviceId) is null) return PspStatus.InvalidParam;
        devices[page] = new DeviceContext(page, rid, BinaryPrimitives.ReadUInt16LittleEndian(b[PspCommandBuffer.DevCreate.RootPortId..]), segment);
        return PspStatus.Success;
    }

    private PspStatus DevReclaim(Span<byte> b)
    {
        if (FindDevice(BinaryPrimitives.ReadUInt64LittleEndian(b[PspCommandBuffer.DevReclaim.DevCtxSla..])) is not { } dev) return PspStatus.InvalidParam;
        if (dev.Connected || dev.Tdis > 0) return PspStatus.InvalidGuestState;
        devices.Remove(dev.Page);
        return PspStatus.Success;
    }

    /// <summary>
    /// DEV_CONNECT: the PSP authenticates the device over SPDM through the host's DOE relay — VCA,
    /// DIGESTS, CERTIFICATE (verified to the root the host provisioned), signed MEASUREMENTS,
    /// KEY_EXCHANGE + FINISH — then, inside that session, TDISP version and capabilities and the
    /// IDE_KM keys of the traffic-class-0 stream, programmed and started [D4,S5]. Any failure is
    /// SPDM_ERROR with no key programmed and the session ended.
    /// </summary>
    private PspStatus DevConnect(Span<byte> b)
    {
        var rc = CheckSpdmCtrl(b, PspCommandBuffer.DevConnect.SpdmCtrl);
        if (rc != PspStatus.Success) return rc;
        if (FindDevice(BinaryPrimitives.ReadUInt64LittleEndian(b[PspCommandBuffer.DevConnect.DevCtxSla..])) is not { } dev) return PspStatus.InvalidParam;
        if (dev.Connected) return PspStatus.InvalidGuestState;
        byte tcMask = b[PspCommandBuffer.DevConnect.TcMask], certSlot = b[PspCommandBuffer.DevConnect.CertSlot];
        // TsmLab: one IDE stream (traffic class 0) is modelled; SPDM has slots 0-7.
        if (tcMask != 1 || certSlot > 7) return PspStatus.InvalidParam;
        byte streamId = b[PspCommandBuffer.DevConnect.IdeStreamId];
        if (route.Mailbox(dev.DeviceId) is not { } mailbox || route.TrustedRoot(dev.DeviceId) is not { } root) return PspStatus.SpdmError;
        var link = SpdmLink.Open(mailbox, root);
        if (link is null)
        {
            trace?.Record(Tracing.TraceLayer.Firmware, Tracing.TraceLayer.Device, Tracing.TraceKind.Decision, "SPDM authentication", "failed",
                new Tracing.TraceField("device_id", $"0x{dev.DeviceId:x}"), new Tracing.TraceField("reason", SpdmLink.LastFailure));
            return PspStatus.SpdmError;
        }
        var requester = link.Tdisp;
        var pf = TdiFunctionId.FromRid(dev.Rid);
        var version = requester.GetVersion(pf);
        if (!version.IsSuccess || !version.Value!.Contains(TdispHeader.Version10) || !requester.GetCapabilities(pf).IsSuccess
            || !requester.ProgramAndStartStream(streamId, 0, 0, slot => Derive($"ide/{dev.DeviceId:x}/{streamId}/{slot.Value}", 40)))
        {
            link.Close();
            return PspStatus.SpdmError;
        }
        dev.Link = link;
        dev.Requester = requester;
        dev.StreamId = streamId;
        dev.TcMask = tcMask;
        dev.CertSlot = certSlot;
        dev.Certificates = link.CertificateChain;
        dev.MeasurementRecord = link.MeasurementRecord;
        dev.Measurements = [.. new byte[32], .. dev.MeasurementRecord];
        dev.MeasurementsFresh = false;
        dev.Connected = true;
        return PspStatus.Success;
    }

    /// <summary>DEV_DISCONNECT: KEY_SET_STOP for every key of the stream, unless <c>force</c> (no SPDM traffic).</summary>
    private PspStatus DevDisconnect(Span<byte> b)
    {
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(b[PspCommandBuffer.DevDisconnect.Flags..]);
        if ((flags & ~PspCommandBuffer.DevDisconnect.FlagForce) != 0) return PspStatus.InvalidParam;
        var rc = CheckSpdmCtrl(b, PspCommandBuffer.DevDisconnect.SpdmCtrl);
        if (rc != PspStatus.Success) return rc;
        if (FindDevice(BinaryPrimitives.ReadUInt64LittleEndian(b[PspCommandBuffer.DevDisconnect.DevCtxSla..])) is not { } dev) return PspStatus.InvalidParam;
        if (!dev.Connected || dev.Tdis > 0) return PspStatus.InvalidGuestState;
        if ((flags & PspCommandBuffer.DevDisconnect.FlagForce) == 0)
            foreach (var dir in (ReadOnlySpan<IdeKeyDirection>)[IdeKeyDirection.Receive, IdeKeyDirection.Transmit])
                foreach (var ss in (ReadOnlySpan<IdeSubStream>)[IdeSubStream.PostedRequest, IdeSubStream.NonPostedRequest, IdeSubStream.Completion])
                    dev.Requester!.KeySetStop(dev.StreamId, IdeKeySubStream.Create(0, dir, ss), 0);
        dev.Link?.Close();
        dev.Link = null;
        dev.Connected = false;
        dev.Requester = null;
        return PspStatus.Success;
    }

    /// <summary>DEV_STATUS: struct sev_tio_dev_status at status_paddr (status_length must hold it, else INVALID_LEN).</summary>
    private PspStatus DevStatus(Span<byte> b)
    {
        if (FindDevice(BinaryPrimitives.ReadUInt64LittleEndian(b[PspCommandBuffer.DevStatus.DevCtxSla..])) is not { } dev) return PspStatus.InvalidParam;
        if (BinaryPrimitives.ReadUInt32LittleEndian(b[PspCommandBuffer.DevStatus.StatusLength..]) < DevStatusData.Size) return PspStatus.InvalidLength;
        if (!Memory.TryGet(BinaryPrimitives.ReadUInt64LittleEndian(b[PspCommandBuffer.DevStatus.StatusPaddr..]), DevStatusData.Size, out var s)) return PspStatus.InvalidAddress;
        s.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(s[DevStatusData.Length..], DevStatusData.Size);
        s[DevStatusData.CtxState] = dev.Connected ? DevStatusData.StateConnected : DevStatusData.StateCreated;
        s[DevStatusData.CertsSlot] = dev.CertSlot;
        BinaryPrimitives.WriteUInt16LittleEndian(s[DevStatusData.DeviceId..], dev.Rid);
        s[DevStatusData.SegmentId] = dev.Segment;
        s[DevStatusData.TcMask] = dev.TcMask;
        var bound = tdis.Values.Where(t => t.Device == dev && t.State != TdiFirmwareState.Unbound).ToArray();
        byte p2 = dev.Connected ? DevStatusData.MeasDigestValid : (byte)0;
        if (bound.Any(t => (t.LockFlags & (uint)LockInterfaceFlags.NoFwUpdate) != 0)) p2 |= DevStatusData.NoFwUpdate;
        s[DevStatusData.P2] = p2;
        if (dev.Connected)
        {
            s[DevStatusData.IdeStreamId] = dev.StreamId;
            SHA384.HashData(dev.Certificates, s.Slice(DevStatusData.CertsDigest, 48));
            SHA384.HashData(dev.Measurements, s.Slice(DevStatusData.MeasDigest, 48));
        }
        BinaryPrimitives.WriteUInt32LittleEndian(s[DevStatusData.TdiCount..], (uint)dev.Tdis);
        BinaryPrimitives.WriteUInt32LittleEndian(s[DevStatusData.BoundTdiCount..], (uint)bound.Length);
        return PspStatus.Success;
    }

    /// <summary>
    /// DEV_MEASUREMENTS: the measurement object (TsmLab content: nonce[32], then the DMTF record)
    /// in spdm_ctrl.output. Only the raw bitstream form is modelled (raw_bitstream = 0, the digest
    /// form, is INVALID_PARAM). A non-zero nonce makes the measurements fresh for the next TDI_INFO.
    /// </summary>
    private PspStatus DevMeasurements(Span<byte> b)
    {
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(b[PspCommandBuffer.DevMeasurements.Flags..]);
        if (flags != PspCommandBuffer.DevMeasurements.FlagRawBitstream) return PspStatus.InvalidParam;
        var rc = CheckSpdmCtrl(b, PspCommandBuffer.DevMeasurements.SpdmCtrl);
        if (rc != PspStatus.Success) return rc;
        if (FindDevice(BinaryPrimitives.ReadUInt64LittleEndian(b[PspCommandBuffer.DevMeasurements.DevCtxSla..])) is not { } dev) return PspStatus.InvalidParam;
        if (!dev.Connected) return PspStatus.InvalidGuestState;
        var nonce = b.Slice(PspCommandBuffer.DevMeasurements.Nonce, 32);
        // Fresh measurements from the device, inside the session (GET_MEASUREMENTS, signed).
        if (dev.Link?.RefreshMeasurements() is not { } record) return PspStatus.SpdmError;
        dev.MeasurementRecord = record;
        byte[] blob = [.. nonce, .. dev.MeasurementRecord];
        rc = WriteObject(b, PspCommandBuffer.DevMeasurements.SpdmCtrl, SpdmDataObject.IdMeasurement, dev, blob);
        if (rc != PspStatus.Success) return rc;
        dev.Measurements = blob;
        dev.MeasurementsFresh = nonce.ContainsAnyExcept((byte)0);
        return PspStatus.Success;
    }

    /// <summary>DEV_CERTIFICATES: the certificate object (the SPDM certificate chain) in spdm_ctrl.output.</summary>
    private PspStatus DevCertificates(Span<byte> b)
    {
        var rc = CheckSpdmCtrl(b, PspCommandBuffer.DevCertificates.SpdmCtrl);
        if (rc != PspStatus.Success) return rc;
        if (FindDevice(BinaryPrimitives.ReadUInt64LittleEndian(b[PspCommandBuffer.DevCertificates.DevCtxSla..])) is not { } dev) return PspStatus.InvalidParam;
        if (!dev.Connected) return PspStatus.InvalidGuestState;
        return WriteObject(b, PspCommandBuffer.DevCertificates.SpdmCtrl, SpdmDataObject.IdCertificate, dev, dev.Certificates);
    }

    /// <summary>TDI_CREATE: a TDI context for the function interface_id names, in the donated page.</summary>
    private PspStatus TdiCreate(Span<byte> b)
    {
        if (FindDevice(BinaryPrimitives.ReadUInt64LittleEndian(b[PspCommandBuffer.TdiCreate.DevCtxSla..])) is not { } dev) return PspStatus.InvalidParam;
        var rc = DonatedPage(BinaryPrimitives.ReadUInt64LittleEndian(b[PspCommandBuffer.TdiCreate.TdiCtxSla..]), out ulong page);
        if (rc != PspStatus.Success) return rc;
        var iid = b.Slice(PspCommandBuffer.TdiCreate.InterfaceId, TdispInterfaceId.Size);
        var function = new TdiFunctionId(BinaryPrimitives.ReadUInt32LittleEndian(iid[TdispInterfaceId.FunctionId..]));
        if ((function.Value & TdiFunctionId.ReservedMask) != 0 || iid[4..].ContainsAnyExcept((byte)0)) return PspStatus.InvalidParam;
        if (!dev.Connected) return PspStatus.InvalidGuestState;
        if (tdisByFunction.ContainsKey(function.Value)) return PspStatus.AlreadyOwned;
        var tdi = tdis[page] = new TdiContext(page, dev, function);
        tdisByFunction[function.Value] = tdi;
        dev.Tdis++;
        return PspStatus.Success;
    }

    private PspStatus TdiReclaim(Span<byte> b)
    {
        if (FindTdi(b, PspCommandBuffer.TdiReclaim.DevCtxSla, PspCommandBuffer.TdiReclaim.TdiCtxSla) is not { } tdi) return PspStatus.InvalidParam;
        if (tdi.State != TdiFirmwareState.Unbound) return PspStatus.InvalidGuestState;
        tdis.Remove(tdi.Page);
        tdisByFunction.Remove(tdi.Function.Value);
        tdi.Device.Tdis--;
        return PspStatus.Success;
    }

    /// <summary>
    /// TDI_BIND: the TDI is given to the guest of gctx as guest_device_id; LOCK_INTERFACE with the
    /// lock flags and the device's stream, then the whole interface report (CONFIG_LOCKED,
    /// BIND_LOCKED). With <c>run</c>: START_INTERFACE with the lock's nonce (RUN, BIND_RUN) — of a
    /// TDI locked by an earlier TDI_BIND for the same guest and guest_device_id, or right after
    /// the lock (undone when the start fails).
    /// </summary>
    private PspStatus TdiBind(Span<byte> b)
    {
        ushort lockFlags = BinaryPrimitives.ReadUInt16LittleEndian(b[PspCommandBuffer.TdiBind.LockFlags..]), runWord = BinaryPrimitives.ReadUInt16LittleEndian(b[PspCommandBuffer.TdiBind.RunWord..]);
        if ((lockFlags & ~PspCommandBuffer.TdiBind.LockFlagMask) != 0 || (runWord & ~PspCommandBuffer.TdiBind.Run) != 0 ||
            b[(PspCommandBuffer.TdiBind.RunWord + 2)..].ContainsAnyExcept((byte)0))
            return PspStatus.InvalidParam;
        var rc = CheckSpdmCtrl(b, PspCommandBuffer.TdiBind.SpdmCtrl);
        if (rc != PspStatus.Success) return rc;
        if (FindTdi(b, PspCommandBuffer.TdiBind.DevCtxSla, PspCommandBuffer.TdiBind.TdiCtxSla) is not { } tdi) return PspStatus.InvalidParam;
        if (!guestsByGctx.TryGetValue(BinaryPrimitives.ReadUInt64LittleEndian(b[PspCommandBuffer.TdiBind.Gctx..]), out var guest)) return PspStatus.InvalidGuest;
        uint guestRid = BinaryPrimitives.ReadUInt16LittleEndian(b[PspCommandBuffer.TdiBind.GuestDeviceId..]);
        bool run = runWord != 0;
        var requester = tdi.Device.Requester!;
        if (tdi.State == TdiFirmwareState.BindLocked && run)
        {
            if (tdi.Asid != guest.Asid) return PspStatus.InvalidGuest;
            if (tdi.GuestRid != guestRid) return PspStatus.InvalidParam;
            if (!requester.StartInterface(tdi.Function, tdi.StartNonce).IsSuccess) return PspStatus.SpdmError;
            tdi.State = TdiFirmwareState.BindRun;
            return PspStatus.Success;
        }
        if (tdi.State != TdiFirmwareState.Unbound) return PspStatus.InvalidGuestState;
        if (boundGuestRids.Contains((guest.Asid, guestRid))) return PspStatus.AlreadyOwned;
        var nonce = requester.LockInterface(tdi.Function, new LockInterfaceParameters((LockInterfaceFlags)lockFlags, tdi.Device.StreamId, 0));
        if (!nonce.IsSuccess) return PspStatus.SpdmError;
        var report = requester.GetInterfaceReport(tdi.Function);
        if (!report.IsSuccess || (run && !requester.StartInterface(tdi.Function, nonce.Value!).IsSuccess))
        {
            requester.StopInterface(tdi.Function);
            return PspStatus.SpdmError;
        }
        tdi.Asid = guest.Asid;
        tdi.GuestRid = guestRid;
        tdi.StartNonce = nonce.Value!;
        tdi.Report = report.Value!.Bytes;
        tdi.Ranges = [.. report.Value.Ranges];
        tdi.LockFlags = lockFlags;
        tdi.ReportCount++;
        tdi.State = run ? TdiFirmwareState.BindRun : TdiFirmwareState.BindLocked;
        boundGuestRids.Add((tdi.Asid, tdi.GuestRid));
        return PspStatus.Success;
    }

    /// <summary>TDI_UNBIND: STOP_INTERFACE, the TDI's MMIO pages invalidated in the RMP, its SDTE cleared. The TDI remembers its last guest and guest_device_id, so that guest's messages about it are answered (TDI_INFO UNBOUND) until a new TDI_BIND.</summary>
    private PspStatus TdiUnbind(Span<byte> b)
    {
        var rc = CheckSpdmCtrl(b, PspCommandBuffer.TdiUnbind.SpdmCtrl);
        if (rc != PspStatus.Success) return rc;
        if (FindTdi(b, PspCommandBuffer.TdiUnbind.DevCtxSla, PspCommandBuffer.TdiUnbind.TdiCtxSla) is not { } tdi) return PspStatus.InvalidParam;
        if (tdi.State == TdiFirmwareState.Unbound) return PspStatus.InvalidGuestState;
        if (!guestsByGctx.TryGetValue(BinaryPrimitives.ReadUInt64LittleEndian(b[PspCommandBuffer.TdiUnbind.Gctx..]), out var guest) || guest.Asid != tdi.Asid) return PspStatus.InvalidGuest;
        tdi.Device.Requester!.StopInterface(tdi.Function);
        foreach (var r in tdi.Ranges) Rmp.InvalidateMmio(tdi.Asid, r.FirstPage, (ulong)r.NumberOfPages * 4096);
        deviceTable.Remove(tdi.Function.Value);
        boundGuestRids.Remove((tdi.Asid, tdi.GuestRid));
        tdi.State = TdiFirmwareState.Unbound;
        tdi.StartNonce = [];
        tdi.Report = [];
        tdi.Ranges = [];
        return PspStatus.Success;
    }

    /// <summary>TDI_REPORT: the interface report object in spdm_ctrl.output.</summary>
    private PspStatus TdiReport(Span<byte> b)
    {
        var rc = CheckSpdmCtrl(b, PspCommandBuffer.TdiReport.SpdmCtrl);
        if (rc != PspStatus.Success) return rc;
        if (FindTdi(b, PspCommandBuffer.TdiReport.DevCtxSla, PspCommandBuffer.TdiReport.TdiCtxSla) is not { } tdi) return PspStatus.InvalidParam;
        if (tdi.State == TdiFirmwareState.Unbound) return PspStatus.InvalidGuestState;
        if (!guestsByGctx.TryGetValue(BinaryPrimitives.ReadUInt64LittleEndian(b[PspCommandBuffer.TdiReport.Gctx..]), out var guest) || guest.Asid != tdi.Asid) return PspStatus.InvalidGuest;
        return WriteObject(b, PspCommandBuffer.TdiReport.SpdmCtrl, SpdmDataObject.IdReport, tdi.Device, tdi.Report);
    }

    /// <summary>TDI_STATUS: the TDISP state (GET_DEVICE_INTERFACE_STATE; ERROR when the device does not answer) in struct sev_tio_tdi_status_data.</summary>
    private PspStatus TdiStatus(Span<byte> b)
    {
        var rc = CheckSpdmCtrl(b, PspCommandBuffer.TdiStatus.SpdmCtrl);
        if (rc != PspStatus.Success) return rc;
        if (FindTdi(b, PspCommandBuffer.TdiStatus.DevCtxSla, PspCommandBuffer.TdiStatus.TdiCtxSla) is not { } tdi) return PspStatus.InvalidParam;
        if (!Memory.TryGet(BinaryPrimitives.ReadUInt64LittleEndian(b[PspCommandBuffer.TdiStatus.StatusPaddr..]), TdiStatusData.Size, out var s)) return PspStatus.InvalidAddress;
        var state = tdi.Device.Requester?.GetState(tdi.Function) ?? default;
        s.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(s[TdiStatusData.Length..], TdiStatusData.Size);
        s[TdiStatusData.TdispState] = state.IsSuccess ? (byte)state.Value : (byte)TdiState.Error;
        return PspStatus.Success;
    }

    /// <summary>TDI_INFO: struct sev_tio_tdi_info_data at status_paddr.</summary>
    private PspStatus TdiInfo(Span<byte> b)
    {
        if (FindTdi(b, PspCommandBuffer.TdiInfo.DevCtxSla, PspCommandBuffer.TdiInfo.TdiCtxSla) is not { } tdi) return PspStatus.InvalidParam;
        if (!Memory.TryGet(BinaryPrimitives.ReadUInt64LittleEndian(b[PspCommandBuffer.TdiInfo.StatusPaddr..]), TdiInfoData.Size, out var s)) return PspStatus.InvalidAddress;
        var dev = tdi.Device;
        s.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(s[TdiInfoData.Length..], TdiInfoData.Size);
        BinaryPrimitives.WriteUInt32LittleEndian(s[TdiInfoData.InterfaceId..], tdi.Function.Value);
        uint p1 = (uint)tdi.State << TdiInfoData.TdiStatusShift;
        if (dev.Connected) p1 |= TdiInfoData.MeasDigestValid | (dev.MeasurementsFresh ? TdiInfoData.MeasDigestFresh : 0);
        BinaryPrimitives.WriteUInt32LittleEndian(s[TdiInfoData.P1..], p1);
        BinaryPrimitives.WriteUInt32LittleEndian(s[TdiInfoData.P2..], tdi.LockFlags);
        BinaryPrimitives.WriteUInt64LittleEndian(s[TdiInfoData.SpdmAlgos..], TdiInfoMessage.ModelAlgos);
        SHA384.HashData(dev.Certificates, s.Slice(TdiInfoData.CertsDigest, 48));
        SHA384.HashData(dev.Measurements, s.Slice(TdiInfoData.MeasDigest, 48));
        SHA384.HashData(tdi.Report, s.Slice(TdiInfoData.InterfaceReportDigest, 48));
        BinaryPrimitives.WriteUInt64LittleEndian(s[TdiInfoData.IntfReportCounter..], tdi.ReportCount);
        BinaryPrimitives.WriteUInt32LittleEndian(s[TdiInfoData.Asid..], tdi.Asid);
        return PspStatus.Success;
    }

    /// <summary>
    /// Writes one output object into spdm_ctrl.output: the sla_buffer_hdr (payload_sz = the
    /// object padded to 32 B), the 32-byte SPDM data object header (id, length = header + data,
    /// version 1.0, device_id, segment_id, type 1), the data. When the buffer's capacity_sz (or its
    /// pages) cannot hold it, only capacity_sz is rewritten — to the page-rounded size needed —
    /// and the answer is EXPAND_BUFFER_LENGTH_REQUEST, as the driver's sla_expand expects [S5].
    /// </summary>
    private PspStatus WriteObject(ReadOnlySpan<byte> b, int spdmCtrl, uint objectId, DeviceContext dev, ReadOnlySpan<byte> data)
    {
        var rc = SlaBuffer.TryOpen(Memory, BinaryPrimitives.ReadUInt64LittleEndian(b[(spdmCtrl + PspCommandBuffer.SpdmCtrl.Output)..]), out var output);
        if (rc != PspStatus.Success) return rc;
        Span<byte> hdr = stackalloc byte[SlaBufferHeader.Size + SpdmDataObject.ObjectHeaderSize];
        output.Read(0, hdr[..SlaBufferHeader.Size]);
        long objectLength = (long)SpdmDataObject.ObjectHeaderSize + data.Length;
        long payload = (objectLength + SpdmDataObject.Alignment - 1) / SpdmDataObject.Alignment * SpdmDataObject.Alignment;
        long needed = SlaBufferHeader.Size + payload;
        if (needed > Math.Min(output.Capacity, BinaryPrimitives.ReadUInt32LittleEndian(hdr[SlaBufferHeader.CapacitySz..])))
        {
            long pages = (needed + PhysicalMemory.PageSize - 1) / PhysicalMemory.PageSize;
            if (pages > SlaBuffer.MaxPages) return PspStatus.InvalidLength;
            BinaryPrimitives.WriteUInt32LittleEndian(hdr[SlaBufferHeader.CapacitySz..], (uint)(pages * PhysicalMemory.PageSize));
            output.Write(SlaBufferHeader.CapacitySz, hdr.Slice(SlaBufferHeader.CapacitySz, 4));
            return PspStatus.ExpandBufferLengthRequest;
        }
        hdr[4..].Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(hdr[SlaBufferHeader.PayloadSz..], (uint)payload);
        var o = hdr[SlaBufferHeader.Size..];
        BinaryPrimitives.WriteUInt32LittleEndian(o[SpdmDataObject.Id..], objectId);
        BinaryPrimitives.WriteUInt32LittleEndian(o[SpdmDataObject.Length..], (uint)objectLength);
        o[SpdmDataObject.VersionMajor] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(o[SpdmDataObject.DeviceId..], dev.Rid);
        o[SpdmDataObject.SegmentId] = dev.Segment;
        o[SpdmDataObject.Type] = 1;
        output.Write(0, hdr);
        output.Write(hdr.Length, data);
        Span<byte> pad = stackalloc byte[SpdmDataObject.Alignment];
        pad.Clear();
        output.Write(hdr.Length + data.Length, pad[..(int)(payload - objectLength)]);
        return PspStatus.Success;
    }

    private byte[] Derive(string label, int length) =>
        HKDF.DeriveKey(HashAlgorithmName.SHA384, seed, length, salt: "tsmlab-sev-tio"u8.ToArray(), info: System.Text.Encoding.ASCII.GetBytes(label));
}
