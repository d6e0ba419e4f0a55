using TsmLab.Tdisp.Wire;

namespace TsmLab.Tdisp.Requester;

/// <summary>Sends TDISP and IDE_KM requests to a device and decodes its answers.</summary>
/// <remarks>
/// The TSM-side TDISP and IDE_KM requester the platform firmware models use: typed calls that write
/// the request bytes [D1,D4], exchange them over an ITdispTransport (synchronous calls) or an
/// IAsyncTdispTransport (the <c>…Async</c> calls, for firmware that yields while the host relays each
/// object), and decode the answer. Both forms share the writers and decoders, so they send the same
/// bytes. A TDISP_ERROR comes back as a value (TdispOutcome.DeviceError); a response of the wrong
/// type, size or function_id is MalformedResponse. Buffers are allocated once per requester; one
/// exchange is in flight at a time (not thread-safe).
/// </remarks>
public sealed class TdispRequester
{
    /// <summary>Largest report portion a single GET_DEVICE_INTERFACE_REPORT may ask for.</summary>
    public const ushort MaxPortionRequest = ushort.MaxValue;

    private readonly ITdispTransport? transport;
    private readonly IAsyncTdispTransport? asyncTransport;
    private readonly byte[] request = new byte[1 + 512];
    private readonly byte[] response = new byte[1 + DeviceInterfaceReportResponse.FixedSize + ushort.MaxValue];

    /// <summary>A requester whose calls complete at once over <paramref name="transport"/> (and whose <c>…Async</c> calls yield when it is also an IAsyncTdispTransport).</summary>
    public TdispRequester(ITdispTransport transport)
    {
        this.transport = transport;
        asyncTransport = transport as IAsyncTdispTransport;
    }

    /// <summary>A requester over a transport that may yield: use the <c>…Async</c> calls (the synchronous ones also work when <paramref name="transport"/> is an ITdispTransport too).</summary>
    public TdispRequester(IAsyncTdispTransport transport)
    {
        asyncTransport = transport;
        this.transport = transport as ITdispTransport;
    }

    /// <summary>The synchronous transport (null for a requester that has only an asynchronous one).</summary>
    public ITdispTransport? Transport => transport;

    public TdispResult<byte[]> GetVersion(TdiFunctionId id) => VersionOf(Send(HeaderOnlyMessage.WriteGetTdispVersion(Body, id), VdmProtocolId.Tdisp), id);

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<TdispResult<byte[]>> GetVersionAsync(TdiFunctionId id) =>
        VersionOf(await SendAsync(HeaderOnlyMessage.WriteGetTdispVersion(Body, id), VdmProtocolId.Tdisp).ConfigureAwait(false), id);

    public TdispResult<TdispCapabilities> GetCapabilities(TdiFunctionId id, uint tsmCaps = 0) =>
        CapabilitiesOf(Send(GetTdispCapabilitiesRequest.Write(Body, id, tsmCaps), VdmProtocolId.Tdisp), id);

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<TdispResult<TdispCapabilities>> GetCapabilitiesAsync(TdiFunctionId id, uint tsmCaps = 0) =>
        CapabilitiesOf(await SendAsync(GetTdispCapabilitiesRequest.Write(Body, id, tsmCaps), VdmProtocolId.Tdisp).ConfigureAwait(false), id);

    /// <summary>LOCK_INTERFACE_REQUEST; the value is the 32-byte START_INTERFACE nonce.</summary>
    public TdispResult<byte[]> LockInterface(TdiFunctionId id, in LockInterfaceParameters parameters) =>
        LockOf(Send(LockInterfaceRequest.Write(Body, id, parameters), VdmProtocolId.Tdisp), id);

    /// <summary>LOCK_INTERFACE_REQUEST; the value is the 32-byte START_INTERFACE nonce.</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<TdispResult<byte[]>> LockInterfaceAsync(TdiFunctionId id, LockInterfaceParameters parameters) =>
        LockOf(await SendAsync(LockInterfaceRequest.Write(Body, id, parameters), VdmProtocolId.Tdisp).ConfigureAwait(false), id);

    /// <summary>One GET_DEVICE_INTERFACE_REPORT exchange.</summary>
    public TdispResult<ReportPortion> GetInterfaceReportPortion(TdiFunctionId id, ushort offset, ushort length) =>
        PortionOf(Send(GetDeviceInterfaceReportRequest.Write(Body, id, offset, length), VdmProtocolId.Tdisp), id);

    /// <summary>One GET_DEVICE_INTERFACE_REPORT exchange.</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<TdispResult<ReportPortion>> GetInterfaceReportPortionAsync(TdiFunctionId id, ushort offset, ushort length) =>
        PortionOf(await SendAsync(GetDeviceInterfaceReportRequest.Write(Body, id, offset, length), VdmProtocolId.Tdisp).ConfigureAwait(false), id);

    /// <summary>Fetches the whole report in portions of at most <paramref name="portionLength"/> bytes
    /// (the device may clip further) and reassembles and decodes it.</summary>
    public TdispResult<DeviceInterfaceReport> GetInterfaceReport(TdiFunctionId id, ushort portionLength = MaxPortionRequest)
    {
        var assembly = new ReportAssembly();
        while (true)
        {
            if (assembly.TooLong) return TdispResult<DeviceInterfaceReport>.Malformed();
            if (assembly.Next(GetInterfaceReportPortion(id, assembly.Offset, portionLength)) is { } done) return done;
        }
    }

    /// <summary>Fetches the whole report in portions (as <see cref="GetInterfaceReport"/>), yielding while each travels.</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<TdispResult<DeviceInterfaceReport>> GetInterfaceReportAsync(TdiFunctionId id, ushort portionLength = MaxPortionRequest)
    {
        var assembly = new ReportAssembly();
        while (true)
        {
            if (assembly.TooLong) return TdispResult<DeviceInterfaceReport>.Malformed();
            if (assembly.Next(await GetInterfaceReportPortionAsync(id, assembly.Offset, portionLength).ConfigureAwait(false)) is { } done) return done;
        }
    }

    public TdispResult<TdiState> GetState(TdiFunctionId id) => StateOf(Send(HeaderOnlyMessage.WriteGetDeviceInterfaceState(Body, id), VdmProtocolId.Tdisp), id);

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<TdispResult<TdiState>> GetStateAsync(TdiFunctionId id) =>
        StateOf(await SendAsync(HeaderOnlyMessage.WriteGetDeviceInterfaceState(Body, id), VdmProtocolId.Tdisp).ConfigureAwait(false), id);

    public TdispResult<TdispAck> StartInterface(TdiFunctionId id, ReadOnlySpan<byte> nonce) =>
        AckOf(Send(StartInterfaceRequest.Write(Body, id, nonce), VdmProtocolId.Tdisp), id, TdispResponseCode.StartInterface);

    public ValueTask<TdispResult<TdispAck>> StartInterfaceAsync(TdiFunctionId id, ReadOnlySpan<byte> nonce) =>
        AckAsync(StartInterfaceRequest.Write(Body, id, nonce), id, TdispResponseCode.StartInterface);

    public TdispResult<TdispAck> StopInterface(TdiFunctionId id) =>
        AckOf(Send(HeaderOnlyMessage.WriteStopInterfaceRequest(Body, id), VdmProtocolId.Tdisp), id, TdispResponseCode.StopInterface);

    public ValueTask<TdispResult<TdispAck>> StopInterfaceAsync(TdiFunctionId id) =>
        AckAsync(HeaderOnlyMessage.WriteStopInterfaceRequest(Body, id), id, TdispResponseCode.StopInterface);

    public TdispResult<TdispAck> BindP2pStream(TdiFunctionId id, byte p2pStreamId, byte streamConfig = 0) =>
        AckOf(Send(BindP2pStreamRequest.Write(Body, id, p2pStreamId, streamConfig), VdmProtocolId.Tdisp), id, TdispResponseCode.BindP2pStream);

    public TdispResult<TdispAck> UnbindP2pStream(TdiFunctionId id, byte p2pStreamId) =>
        AckOf(Send(UnbindP2pStreamRequest.Write(Body, id, p2pStreamId), VdmProtocolId.Tdisp), id, TdispResponseCode.UnbindP2pStream);

    public TdispResult<TdispAck> SetMmioAttribute(TdiFunctionId id, in MmioRange range) =>
        AckOf(Send(SetMmioAttributeRequest.Write(Body, id, range), VdmProtocolId.Tdisp), id, TdispResponseCode.SetMmioAttribute);

    public TdispResult<TdispAck> SetTdispConfig(TdiFunctionId id, TdispDsmConfig config) =>
        AckOf(Send(SetTdispConfigRequest.Write(Body, id, config), VdmProtocolId.Tdisp), id, TdispResponseCode.SetTdispConfig);

    /// <summary>VDM_REQUEST; the value is the VDM_RESPONSE data.</summary>
    public TdispResult<byte[]> SendVdm(TdiFunctionId id, byte registryId, ReadOnlySpan<byte> vendorId, ReadOnlySpan<byte> data)
    {
        var r = Classify(Send(VdmMessage.Write(Body, (byte)TdispRequestCode.VdmRequest, id, registryId, vendorId, data), VdmProtocolId.Tdisp), id, out var rsp);
        if (r != TdispOutcome.Success)
            return Fail<byte[]>(r, rsp);
        return VdmMessage.TryRead(rsp, (byte)TdispResponseCode.VdmResponse, out var v) ? TdispResult<byte[]>.Ok(v.Data.ToArray()) : TdispResult<byte[]>.Malformed();
    }

    // ---- IDE_KM [D4] ----

    /// <summary>IDE_KM QUERY; null when the device gave no answer.</summary>
    public IdeKmQueryAnswer? QueryIde(byte portIndex) => QueryOf(Send(IdeKmQuery.Write(IdeBody, portIndex), VdmProtocolId.IdeKm));

    /// <summary>IDE_KM QUERY; null when the device gave no answer.</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<IdeKmQueryAnswer?> QueryIdeAsync(byte portIndex) =>
        QueryOf(await SendAsync(IdeKmQuery.Write(IdeBody, portIndex), VdmProtocolId.IdeKm).ConfigureAwait(false));

    /// <summary>IDE_KM KEY_PROG with a 32-byte key and 8-byte IFV; the KP_ACK's status says whether it took.</summary>
    public IdeKmAck ProgramKey(byte streamId, IdeKeySubStream slot, byte portIndex, ReadOnlySpan<byte> key, ReadOnlySpan<byte> ifv) =>
        IdeAckOf(Send(IdeKmStreamMessage.WriteKeyProg(IdeBody, streamId, slot, portIndex, key, ifv), VdmProtocolId.IdeKm), IdeKmObjectId.KpAck);

    public IdeKmAck KeySetGo(byte streamId, IdeKeySubStream slot, byte portIndex) =>
        IdeAckOf(Send(IdeKmStreamMessage.Write(IdeBody, IdeKmObjectId.KSetGo, streamId, slot, portIndex), VdmProtocolId.IdeKm), IdeKmObjectId.KGoStopAck);

    public IdeKmAck KeySetStop(byte streamId, IdeKeySubStream slot, byte portIndex) =>
        IdeAckOf(Send(IdeKmStreamMessage.Write(IdeBody, IdeKmObjectId.KSetStop, streamId, slot, portIndex), VdmProtocolId.IdeKm), IdeKmObjectId.KGoStopAck);

    /// <summary>Programs key set <paramref name="keySet"/> for every direction and sub-stream of a stream
    /// (keys from <paramref name="keyFor"/>: 32 key bytes then 8 IFV bytes) and starts them. True when all six acked OK.</summary>
    public bool ProgramAndStartStream(byte streamId, byte portIndex, int keySet, Func<IdeKeySubStream, byte[]> keyFor)
    {
        ArgumentNullException.ThrowIfNull(keyFor);
        bool ok = true;
        for (int i = 0; i < 6; i++)
        {
            var slot = Slot(keySet, i);
            byte[] material = keyFor(slot);
            ok &= ProgramKey(streamId, slot, portIndex, material.AsSpan(0, IdeKmStreamMessage.KeySize), material.AsSpan(IdeKmStreamMessage.KeySize, IdeKmStreamMessage.IfvSize)).IsSuccess;
            ok &= KeySetGo(streamId, slot, portIndex).Answered;
        }
        return ok;
    }

    /// <summary>
    /// KEY_PROG then K_SET_GO for every direction and sub-stream (as <see cref="ProgramAndStartStream"/>), yielding while
    /// each travels; stops at the first refusal. The key material from <paramref name="keyFor"/> is wiped after use.
    /// </summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<bool> ProgramAndStartStreamAsync(byte streamId, byte portIndex, int keySet, Func<IdeKeySubStream, byte[]> keyFor)
    {
        ArgumentNullException.ThrowIfNull(keyFor);
        for (int i = 0; i < 6; i++)
        {
            var slot = Slot(keySet, i);
            byte[] material = keyFor(slot);
            int length = IdeKmStreamMessage.WriteKeyProg(IdeBody, streamId, slot, portIndex, material.AsSpan(0, IdeKmStreamMessage.KeySize), material.AsSpan(IdeKmStreamMessage.KeySize, IdeKmStreamMessage.IfvSize));
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(material);
            if (!IdeAckOf(await SendAsync(length, VdmProtocolId.IdeKm).ConfigureAwait(false), IdeKmObjectId.KpAck).IsSuccess) return false;
            length = IdeKmStreamMessage.Write(IdeBody, IdeKmObjectId.KSetGo, streamId, slot, portIndex);
            if (!IdeAckOf(await SendAsync(length, VdmProtocolId.IdeKm).ConfigureAwait(false), IdeKmObjectId.KGoStopAck).Answered) return false;
        }
        return true;
    }

    /// <summary>K_SET_STOP for every direction and sub-stream of key set <paramref name="keySet"/> of a stream. True when all six were acknowledged.</summary>
    public bool StopStream(byte streamId, byte portIndex, int keySet)
    {
        bool ok = true;
        for (int i = 0; i < 6; i++)
            ok &= KeySetStop(streamId, Slot(keySet, i), portIndex).Answered;
        return ok;
    }

    /// <summary>K_SET_STOP for every direction and sub-stream (as <see cref="StopStream"/>), yielding while each travels.</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<bool> StopStreamAsync(byte streamId, byte portIndex, int keySet)
    {
        bool ok = true;
        for (int i = 0; i < 6; i++)
        {
            int length = IdeKmStreamMessage.Write(IdeBody, IdeKmObjectId.KSetStop, streamId, Slot(keySet, i), portIndex);
            ok &= IdeAckOf(await SendAsync(length, VdmProtocolId.IdeKm).ConfigureAwait(false), IdeKmObjectId.KGoStopAck).Answered;
        }
        return ok;
    }

    /// <summary>Slot <paramref name="index"/> (0-5) of a key set: receive then transmit, each PR, NPR, CPL.</summary>
    private static IdeKeySubStream Slot(int keySet, int index) => IdeKeySubStream.Create(keySet,
        index < 3 ? IdeKeyDirection.Receive : IdeKeyDirection.Transmit,
        (index % 3) switch { 0 => IdeSubStream.PostedRequest, 1 => IdeSubStream.NonPostedRequest, _ => IdeSubStream.Completion });

    private Span<byte> Body => request.AsSpan(1);
    private Span<byte> IdeBody => request.AsSpan(1);

    /// <summary>Sends request[0..1+length) with <paramref name="protocol"/> over the synchronous transport; the answer's size in <see cref="response"/>.</summary>
    private int Send(int length, VdmProtocolId protocol)
    {
        request[0] = (byte)protocol;
        var t = transport ?? throw new InvalidOperationException("this requester has only an asynchronous transport: use the …Async calls");
        return t.Exchange(request.AsSpan(0, 1 + length), response);
    }

    /// <summary>As <see cref="Send"/>, over the asynchronous transport when there is one.</summary>
    private ValueTask<int> SendAsync(int length, VdmProtocolId protocol)
    {
        request[0] = (byte)protocol;
        if (asyncTransport is null) return ValueTask.FromResult(Send(length, protocol));
        return asyncTransport.ExchangeAsync(request.AsMemory(0, 1 + length), response);
    }

    private TdispOutcome Classify(int n, TdiFunctionId id, out ReadOnlySpan<byte> message)
    {
        message = n > 1 && n <= response.Length && response[0] == (byte)VdmProtocolId.Tdisp ? response.AsSpan(1, n - 1) : default;
        if (!TdispHeader.TryRead(message, out var h) || h.Version != TdispHeader.Version10 || h.FunctionId != id)
            return TdispOutcome.MalformedResponse;
        return h.MessageType == (byte)TdispResponseCode.TdispError ? TdispOutcome.DeviceError : TdispOutcome.Success;
    }

    private TdispResult<byte[]> VersionOf(int n, TdiFunctionId id)
    {
        var r = Classify(n, id, out var rsp);
        if (r != TdispOutcome.Success)
            return Fail<byte[]>(r, rsp);
        return TdispVersionResponse.TryRead(rsp, out var v) ? TdispResult<byte[]>.Ok(v.Versions.ToArray()) : TdispResult<byte[]>.Malformed();
    }

    private TdispResult<TdispCapabilities> CapabilitiesOf(int n, TdiFunctionId id)
    {
        var r = Classify(n, id, out var rsp);
        if (r != TdispOutcome.Success)
            return Fail<TdispCapabilities>(r, rsp);
        return TdispCapabilitiesResponse.TryRead(rsp, out var c) ? TdispResult<TdispCapabilities>.Ok(c.Capabilities) : TdispResult<TdispCapabilities>.Malformed();
    }

    private TdispResult<byte[]> LockOf(int n, TdiFunctionId id)
    {
        var r = Classify(n, id, out var rsp);
        if (r != TdispOutcome.Success)
            return Fail<byte[]>(r, rsp);
        return LockInterfaceResponse.TryRead(rsp, out var l) ? TdispResult<byte[]>.Ok(l.StartInterfaceNonce.ToArray()) : TdispResult<byte[]>.Malformed();
    }

    private TdispResult<ReportPortion> PortionOf(int n, TdiFunctionId id)
    {
        var r = Classify(n, id, out var rsp);
        if (r != TdispOutcome.Success)
            return Fail<ReportPortion>(r, rsp);
        return DeviceInterfaceReportResponse.TryRead(rsp, out var p)
            ? TdispResult<ReportPortion>.Ok(new ReportPortion(p.Portion.ToArray(), p.RemainderLength))
            : TdispResult<ReportPortion>.Malformed();
    }

    private TdispResult<TdiState> StateOf(int n, TdiFunctionId id)
    {
        var r = Classify(n, id, out var rsp);
        if (r != TdispOutcome.Success)
            return Fail<TdiState>(r, rsp);
        return DeviceInterfaceStateResponse.TryRead(rsp, out var s) ? TdispResult<TdiState>.Ok(s.State) : TdispResult<TdiState>.Malformed();
    }

    private IdeKmQueryAnswer? QueryOf(int n)
    {
        if (!IdeKmQueryResponse.TryRead(IdeKmOf(n), out var q))
            return null;
        var regs = new uint[q.RegisterCount];
        for (int i = 0; i < regs.Length; i++)
            regs[i] = q.GetRegister(i);
        return new IdeKmQueryAnswer(q.PortIndex, q.DevFuncNumber, q.BusNumber, q.Segment, q.MaxPortIndex, regs);
    }

    private ReadOnlySpan<byte> IdeKmOf(int n) =>
        n > 1 && n <= response.Length && response[0] == (byte)VdmProtocolId.IdeKm ? response.AsSpan(1, n - 1) : default;

    private IdeKmAck IdeAckOf(int n, IdeKmObjectId expected)
    {
        if (!IdeKmStreamMessage.TryRead(IdeKmOf(n), out var m) || m.ObjectId != expected)
            return default;
        return new IdeKmAck(true, m.ObjectId, expected == IdeKmObjectId.KpAck ? (KpAckStatus)m.Status : KpAckStatus.Success, m.StreamId, m.KeySubStream, m.PortIndex);
    }

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<TdispResult<TdispAck>> AckAsync(int length, TdiFunctionId id, TdispResponseCode expected) =>
        AckOf(await SendAsync(length, VdmProtocolId.Tdisp).ConfigureAwait(false), id, expected);

    private TdispResult<TdispAck> AckOf(int n, TdiFunctionId id, TdispResponseCode expected)
    {
        var r = Classify(n, id, out var rsp);
        if (r != TdispOutcome.Success)
            return Fail<TdispAck>(r, rsp);
        return HeaderOnlyMessage.TryRead(rsp, (byte)expected, out _) ? TdispResult<TdispAck>.Ok(default) : TdispResult<TdispAck>.Malformed();
    }

    private static TdispResult<T> Fail<T>(TdispOutcome outcome, ReadOnlySpan<byte> message) =>
        outcome == TdispOutcome.DeviceError && TdispErrorResponse.TryRead(message, out var e)
            ? TdispResult<T>.DeviceFailed(e.ErrorCode, e.ErrorData)
            : TdispResult<T>.Malformed();

    /// <summary>Reassembles a report from its portions; every length from the device is checked.</summary>
    private sealed class ReportAssembly
    {
        private readonly MemoryStream assembled = new();
        private int total = -1;

        public ushort Offset => (ushort)assembled.Length;
        public bool TooLong => assembled.Length > ushort.MaxValue;

        /// <summary>Takes one portion; null while more are needed, else the result.</summary>
        public TdispResult<DeviceInterfaceReport>? Next(TdispResult<ReportPortion> p)
        {
            if (!p.IsSuccess)
                return p.As<DeviceInterfaceReport>();
            var (bytes, remainder) = p.Value!;
            int expected = (int)assembled.Length + bytes.Length + remainder;
            if (bytes.Length == 0 || (total >= 0 && expected != total))
                return TdispResult<DeviceInterfaceReport>.Malformed();
            total = expected;
            assembled.Write(bytes);
            if (remainder != 0)
                return null;
            var report = DeviceInterfaceReport.Parse(assembled.ToArray());
            return report is null ? TdispResult<DeviceInterfaceReport>.Malformed() : TdispResult<DeviceInterfaceReport>.Ok(report);
        }
    }
}

/// <summary>One portion of the report and the bytes that remain after it.</summary>
public sealed record ReportPortion(byte[] Bytes, ushort RemainderLength);
