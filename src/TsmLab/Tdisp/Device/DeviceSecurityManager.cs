using System.Buffers.Binary;
using TsmLab.Tdisp.Wire;

namespace TsmLab.Tdisp.Device;

/// <summary>A TDISP device's DSM serving every TDI of its functions (TDISP over protocol 0x01, IDE_KM over 0x00).</summary>
/// <remarks>
/// The device security manager (DSM) of a TDISP device (PCIe 6.x §11) [D1]: it owns the device's
/// TDIs (the PF and its SR-IOV VFs), its IDE key slots [D4] and identity, and answers PCI-SIG
/// vendor-defined payloads. TDISP requests go through one generic entry (size, version, code,
/// supported bitmap, interface, per-code size and state from TdispRequestTable) before a handler
/// sees them; every rejection is a TDISP_ERROR [E1-E4] and leaves all state unchanged.
/// Transport-independent: framing lives in SpdmVendorDefinedResponder and DoeMailbox.
/// </remarks>
public sealed class DeviceSecurityManager : IVdmResponder
{
    private readonly Tdi[] tdis;
    private readonly Dictionary<ushort, Tdi> byRid = [];
    private readonly Lazy<DeviceIdentity> identity;

    /// <summary>Builds a device from a configuration; <paramref name="entropy"/> defaults to the OS CSPRNG.</summary>
    public DeviceSecurityManager(DeviceConfiguration configuration, ITdispEntropySource? entropy = null)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        Configuration = configuration;
        Entropy = entropy ?? SystemEntropySource.Instance;
        StopInUnlockedPolicy = configuration.Policy.StopInUnlocked;
        RequireIdeKeysForLock = configuration.Policy.RequireIdeKeysForLock;
        IdeKeys = new IdeKeyStore(configuration.Ide.StreamIds);
        var t = configuration.Tdisp;
        Capabilities = new TdispCapabilities(t.XtSupported ? TdispCapabilities.XtModeSupported : 0, t.RequestsSupported,
            t.LockFlagsSupported, t.DeviceAddressWidth, t.NumRequestsThis, t.NumRequestsAll);
        var tdis = new List<Tdi> { new(this, TdiFunctionId.FromRid(configuration.Rid), -1, configuration.Layout, t.DeviceSpecificInfo.Length) };
        if (configuration.Sriov is { } s)
            for (int i = 0; i < s.Count; i++)
                tdis.Add(new Tdi(this, TdiFunctionId.FromRid((ushort)(configuration.Rid + s.FirstVfOffset + i * s.VfStride)), i, s.Layout, t.DeviceSpecificInfo.Length));
        this.tdis = [.. tdis];
        foreach (var tdi in this.tdis)
            if (!byRid.TryAdd(tdi.FunctionId.Rid, tdi))
                throw new DeviceConfigurationException($"two functions share RID 0x{tdi.FunctionId.Rid:x4}");
        identity = new Lazy<DeviceIdentity>(() => new DeviceIdentity(configuration));
        int maxReport = 0;
        foreach (var tdi in this.tdis)
            maxReport = Math.Max(maxReport, Math.Min(t.MaxReportPortion, InterfaceReport.SizeOf(tdi.ReportRangeCount, t.DeviceSpecificInfo.Length)));
        MaxResponseSize = 1 + Math.Max(Math.Max(DeviceInterfaceReportResponse.FixedSize + maxReport, VdmMessage.FixedSize + 255),
            IdeKmQueryResponse.FixedSize + 4 * IdeRegisterCount);
        ideRegisters = new uint[IdeRegisterCount];
    }

    /// <summary>The built-in default device (see <see cref="DefaultDevice"/>).</summary>
    public static DeviceSecurityManager CreateDefault(ITdispEntropySource? entropy = null) => new(DefaultDevice.Configuration, entropy);

    public DeviceConfiguration Configuration { get; }
    public ITdispEntropySource Entropy { get; }
    public IdeKeyStore IdeKeys { get; }
    /// <summary>What TDISP_CAPABILITIES answers.</summary>
    public TdispCapabilities Capabilities { get; }
    /// <summary>The device's keys, certificate chain and measurements (built on first use).</summary>
    public DeviceIdentity Identity => identity.Value;
    /// <summary>Every TDI: the PF first, then its VFs in RID order.</summary>
    public IReadOnlyList<Tdi> Interfaces => tdis;
    /// <summary>STOP_INTERFACE in CONFIG_UNLOCKED: success (default, [V1]) or INVALID_INTERFACE_STATE ([E4]).</summary>
    public StopInUnlockedPolicy StopInUnlockedPolicy { get; set; }
    /// <summary>Whether LOCK_INTERFACE requires the default stream's IDE keys programmed and started (default on, [V1]).</summary>
    public bool RequireIdeKeysForLock { get; set; }
    /// <summary>The dsm_config last set by SET_TDISP_CONFIG.</summary>
    public TdispDsmConfig DsmConfig { get; internal set; }
    public int MaxResponseSize { get; }

    /// <summary>Called after every exchange with the named TDI's state before and after; null = no tracing (no allocation).</summary>
    public Action<TdispExchangeEvent>? Exchanged { get; set; }
    /// <summary>Called on every TDI state change, including entry to ERROR from device events.</summary>
    public Action<TdiStateChange>? StateChanged { get; set; }

    /// <summary>The TDI a function_id names, or null (reserved bits, wrong segment, unknown RID).</summary>
    public Tdi? FindInterface(TdiFunctionId id)
    {
        if ((id.Value & TdiFunctionId.ReservedMask) != 0)
            return null;
        if (id.SegmentValid ? id.Segment != Configuration.Segment : id.Segment != 0)
            return null;
        return byRid.GetValueOrDefault(id.Rid);
    }

    internal InterfaceInfo ReportInterfaceInfo =>
        Configuration.Tdisp.InterfaceInfo | ((DsmConfig & TdispDsmConfig.XtModeEnable) != 0 ? InterfaceInfo.Xt : 0);

    internal bool AllInterfacesUnlocked()
    {
        foreach (var t in tdis)
            if (t.State != TdiState.ConfigUnlocked)
                return false;
        return true;
    }

    internal void ResetVirtualFunctions()
    {
        foreach (var t in tdis)
            if (t.IsVirtualFunction)
                t.ResetAsVirtualFunction();
    }

    public int Respond(ReadOnlySpan<byte> request, Span<byte> response)
    {
        if (response.Length < MaxResponseSize)
            throw new ArgumentException($"the response buffer must hold {MaxResponseSize} bytes", nameof(response));
        if (request.IsEmpty)
            return 0;
        switch ((VdmProtocolId)request[0])
        {
            case VdmProtocolId.Tdisp:
                response[0] = (byte)VdmProtocolId.Tdisp;
                return 1 + RespondTdisp(request[1..], response[1..]);
            case VdmProtocolId.IdeKm:
                response[0] = (byte)VdmProtocolId.IdeKm;
                int n = RespondIdeKm(request[1..], response[1..]);
                return n == 0 ? 0 : 1 + n;
            default:
                return 0;
        }
    }

    private int RespondTdisp(ReadOnlySpan<byte> request, Span<byte> response)
    {
        var id = new TdiFunctionId(request.Length >= 8 ? BinaryPrimitives.ReadUInt32LittleEndian(request[4..]) : 0);
        byte code = request.Length >= 2 ? request[1] : (byte)0xFF;
        Tdi? tdi = null;
        TdiState? before = null;
        int n;
        if (request.Length < TdispHeader.Size)
            n = TdispRequestHandlers.Error(response, id, TdispErrorCode.InvalidRequest);
        else if (request[0] != TdispHeader.Version10)
            n = TdispRequestHandlers.Error(response, id, TdispErrorCode.VersionMismatch);
        else if (TdispRequestTable.Lookup(code) is not { } route || !Capabilities.Supports(code))
            n = TdispRequestHandlers.Error(response, id, TdispErrorCode.UnsupportedRequest, code);
        else if ((tdi = FindInterface(id)) is null)
            n = TdispRequestHandlers.Error(response, id, TdispErrorCode.InvalidInterface);
        else
        {
            before = tdi.State;
            if (!route.SizeOk(request.Length))
                n = TdispRequestHandlers.Error(response, id, TdispErrorCode.InvalidRequest);
            else if (!route.AllowedIn(tdi.State))
                n = TdispRequestHandlers.Error(response, id, TdispErrorCode.InvalidInterfaceState);
            else
                n = route.Handler(this, tdi, request, response);
        }
        if (Exchanged is { } trace)
        {
            var error = response[1] == (byte)TdispResponseCode.TdispError ? (TdispErrorCode)BinaryPrimitives.ReadUInt32LittleEndian(response[16..]) : TdispErrorCode.None;
            trace(new TdispExchangeEvent(VdmProtocolId.Tdisp, code, response[1], id, before, tdi?.State, error));
        }
        return n;
    }

    // ---- IDE_KM [D4] (§5.8) ----

    private const int IdeRegisterCount = 2 + 5 * 8;
    private readonly uint[] ideRegisters;

    private int RespondIdeKm(ReadOnlySpan<byte> request, Span<byte> response)
    {
        int n = IdeKmAnswer(request, response);
        Exchanged?.Invoke(new TdispExchangeEvent(VdmProtocolId.IdeKm, request.IsEmpty ? (byte)0xFF : request[0],
            n == 0 ? null : response[0], default, null, null, TdispErrorCode.None));
        return n;
    }

    private int IdeKmAnswer(ReadOnlySpan<byte> request, Span<byte> response)
    {
        if (request.IsEmpty)
            return 0;
        var ide = Configuration.Ide;
        switch ((IdeKmObjectId)request[0])
        {
            case IdeKmObjectId.Query:
                if (!IdeKmQuery.TryRead(request, out var q) || q.PortIndex > ide.MaxPortIndex)
                    return 0;
                int count = FillIdeRegisters();
                return IdeKmQueryResponse.Write(response, q.PortIndex, (byte)Configuration.Rid, Configuration.Bus, Configuration.Segment,
                    ide.MaxPortIndex, ideRegisters.AsSpan(0, count));
            case IdeKmObjectId.KeyProg:
            {
                var m = IdeKmStreamMessage.ReadLenient(request);
                var status = request.Length != IdeKmStreamMessage.KeyProgSize ? KpAckStatus.IncorrectLength
                    : m.PortIndex > ide.MaxPortIndex ? KpAckStatus.UnsupportedPortIndex
                    : !IdeKeys.HasStream(m.StreamId) || !m.KeySubStream.IsValid ? KpAckStatus.UnsupportedValue
                    : KpAckStatus.Success;
                if (status == KpAckStatus.Success)
                    IdeKeys.Program(m.StreamId, m.KeySubStream, m.Key, m.Ifv);
                return IdeKmStreamMessage.Write(response, IdeKmObjectId.KpAck, m.StreamId, m.KeySubStream, m.PortIndex, (byte)status);
            }
            case IdeKmObjectId.KSetGo:
            case IdeKmObjectId.KSetStop:
            {
                if (!IdeKmStreamMessage.TryRead(request, out var m) || m.PortIndex > ide.MaxPortIndex
                    || !IdeKeys.HasStream(m.StreamId) || !m.KeySubStream.IsValid)
                    return 0;
                if (m.ObjectId == IdeKmObjectId.KSetGo)
                    IdeKeys.Go(m.StreamId, m.KeySubStream);
                else
                    IdeKeys.Stop(m.StreamId, m.KeySubStream);
                return IdeKmStreamMessage.Write(response, IdeKmObjectId.KGoStopAck, m.StreamId, m.KeySubStream, m.PortIndex);
            }
            default:
                return 0;
        }
    }

    /// <summary>The IDE extended capability as QUERY_RESP carries it (a simplified register image,
    /// see docs/tdisp.md): capability (b1 selective IDE, b6 IDE_KM, b16-23 streams - 1), control,
    /// then per selective stream: capability, control (b0 enable, b24-31 stream id), status,
    /// RID association 1 (limit, b8-23), RID association 2 (b0 valid, base b8-23).</summary>
    private int FillIdeRegisters()
    {
        var streams = IdeKeys.StreamIds;
        int count = Math.Min(streams.Count, 8);
        ideRegisters[0] = (1u << 1) | (1u << 6) | ((uint)(count - 1) << 16);
        ideRegisters[1] = 0;
        ushort ridBase = Configuration.Rid;
        ushort ridLimit = tdis[^1].FunctionId.Rid;
        for (int i = 0; i < count; i++)
        {
            int r = 2 + i * 5;
            ideRegisters[r] = 0;
            ideRegisters[r + 1] = (IdeKeys.IsStreamReady(streams[i]) ? 1u : 0u) | ((uint)streams[i] << 24);
            ideRegisters[r + 2] = 0;
            ideRegisters[r + 3] = (uint)ridLimit << 8;
            ideRegisters[r + 4] = 1u | ((uint)ridBase << 8);
        }
        return 2 + count * 5;
    }
}
