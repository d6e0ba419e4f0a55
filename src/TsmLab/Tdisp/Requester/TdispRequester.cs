using TsmLab.Tdisp.Wire;

namespace TsmLab.Tdisp.Requester;

/// <summary>Sends TDISP and IDE_KM requests to a device and decodes its answers.</summary>
/// <remarks>
/// The TSM-side TDISP and IDE_KM requester the platform firmware models use: typed calls that write
/// the request bytes [D1,D4], exchange them over any ITdispTransport, and decode the answer. A
/// TDISP_ERROR comes back as a value (TdispOutcome.DeviceError); a response of the wrong type, size
/// or function_id is MalformedResponse. Buffers are allocated once per requester.
/// </remarks>
public sealed class TdispRequester(ITdispTransport transport)
{
    /// <summary>Largest report portion a single GET_DEVICE_INTERFACE_REPORT may ask for.</summary>
    public const ushort MaxPortionRequest = ushort.MaxValue;

    private readonly byte[] request = new byte[1 + 512];
    private readonly byte[] response = new byte[1 + DeviceInterfaceReportResponse.FixedSize + ushort.MaxValue];

    public ITdispTransport Transport => transport;

    public TdispResult<byte[]> GetVersion(TdiFunctionId id)
    {
        var r = Exchange(HeaderOnlyMessage.WriteGetTdispVersion(Body, id), id, out var rsp);
        if (r != TdispOutcome.Success)
            return Fail<byte[]>(r, rsp);
        return TdispVersionResponse.TryRead(rsp, out var v) ? TdispResult<byte[]>.Ok(v.Versions.ToArray()) : TdispResult<byte[]>.Malformed();
    }

    public TdispResult<TdispCapabilities> GetCapabilities(TdiFunctionId id, uint tsmCaps = 0)
    {
        var r = Exchange(GetTdispCapabilitiesRequest.Write(Body, id, tsmCaps), id, out var rsp);
        if (r != TdispOutcome.Success)
            return Fail<TdispCapabilities>(r, rsp);
        return TdispCapabilitiesResponse.TryRead(rsp, out var c) ? TdispResult<TdispCapabilities>.Ok(c.Capabilities) : TdispResult<TdispCapabilities>.Malformed();
    }

    /// <summary>LOCK_INTERFACE_REQUEST; the value is the 32-byte START_INTERFACE nonce.</summary>
    public TdispResult<byte[]> LockInterface(TdiFunctionId id, in LockInterfaceParameters parameters)
    {
        var r = Exchange(LockInterfaceRequest.Write(Body, id, parameters), id, out var rsp);
        if (r != TdispOutcome.Success)
            return Fail<byte[]>(r, rsp);
        return LockInterfaceResponse.TryRead(rsp, out var l) ? TdispResult<byte[]>.Ok(l.StartInterfaceNonce.ToArray()) : TdispResult<byte[]>.Malformed();
    }

    /// <summary>One GET_DEVICE_INTERFACE_REPORT exchange.</summary>
    public TdispResult<ReportPortion> GetInterfaceReportPortion(TdiFunctionId id, ushort offset, ushort length)
    {
        var r = Exchange(GetDeviceInterfaceReportRequest.Write(Body, id, offset, length), id, out var rsp);
        if (r != TdispOutcome.Success)
            return Fail<ReportPortion>(r, rsp);
        return DeviceInterfaceReportResponse.TryRead(rsp, out var p)
            ? TdispResult<ReportPortion>.Ok(new ReportPortion(p.Portion.ToArray(), p.RemainderLength))
            : TdispResult<ReportPortion>.Malformed();
    }

    /// <summary>Fetches the whole report in portions of at most <paramref name="portionLength"/> bytes
    /// (the device may clip further) and reassembles and decodes it.</summary>
    public TdispResult<DeviceInterfaceReport> GetInterfaceReport(TdiFunctionId id, ushort portionLength = MaxPortionRequest)
    {
        using var assembled = new MemoryStream();
        int total = -1;
        while (true)
        {
            if (assembled.Length > ushort.MaxValue)
                return TdispResult<DeviceInterfaceReport>.Malformed();
            var p = GetInterfaceReportPortion(id, (ushort)assembled.Length, portionLength);
            if (!p.IsSuccess)
                return p.As<DeviceInterfaceReport>();
            var (bytes, remainder) = p.Value!;
            int expected = (int)assembled.Length + bytes.Length + remainder;
            if (bytes.Length == 0 || (total >= 0 && expected != total))
                return TdispResult<DeviceInterfaceReport>.Malformed();
            total = expected;
            assembled.Write(bytes);
            if (remainder == 0)
                break;
        }
        var report = DeviceInterfaceReport.Parse(assembled.ToArray());
        return report is null ? TdispResult<DeviceInterfaceReport>.Malformed() : TdispResult<DeviceInterfaceReport>.Ok(report);
    }

    public TdispResult<TdiState> GetState(TdiFunctionId id)
    {
        var r = Exchange(HeaderOnlyMessage.WriteGetDeviceInterfaceState(Body, id), id, out var rsp);
        if (r != TdispOutcome.Success)
            return Fail<TdiState>(r, rsp);
        return DeviceInterfaceStateResponse.TryRead(rsp, out var s) ? TdispResult<TdiState>.Ok(s.State) : TdispResult<TdiState>.Malformed();
    }

    public TdispResult<TdispAck> StartInterface(TdiFunctionId id, ReadOnlySpan<byte> nonce) =>
        Ack(StartInterfaceRequest.Write(Body, id, nonce), id, TdispResponseCode.StartInterface);

    public TdispResult<TdispAck> StopInterface(TdiFunctionId id) =>
        Ack(HeaderOnlyMessage.WriteStopInterfaceRequest(Body, id), id, TdispResponseCode.StopInterface);

    public TdispResult<TdispAck> BindP2pStream(TdiFunctionId id, byte p2pStreamId, byte streamConfig = 0) =>
        Ack(BindP2pStreamRequest.Write(Body, id, p2pStreamId, streamConfig), id, TdispResponseCode.BindP2pStream);

    public TdispResult<TdispAck> UnbindP2pStream(TdiFunctionId id, byte p2pStreamId) =>
        Ack(UnbindP2pStreamRequest.Write(Body, id, p2pStreamId), id, TdispResponseCode.UnbindP2pStream);

    public TdispResult<TdispAck> SetMmioAttribute(TdiFunctionId id, in MmioRange range) =>
        Ack(SetMmioAttributeRequest.Write(Body, id, range), id, TdispResponseCode.SetMmioAttribute);

    public TdispResult<TdispAck> SetTdispConfig(TdiFunctionId id, TdispDsmConfig config) =>
        Ack(SetTdispConfigRequest.Write(Body, id, config), id, TdispResponseCode.SetTdispConfig);

    /// <summary>VDM_REQUEST; the value is the VDM_RESPONSE data.</summary>
    public TdispResult<byte[]> SendVdm(TdiFunctionId id, byte registryId, ReadOnlySpan<byte> vendorId, ReadOnlySpan<byte> data)
    {
        var r = Exchange(VdmMessage.Write(Body, (byte)TdispRequestCode.VdmRequest, id, registryId, vendorId, data), id, out var rsp);
        if (r != TdispOutcome.Success)
            return Fail<byte[]>(r, rsp);
        return VdmMessage.TryRead(rsp, (byte)TdispResponseCode.VdmResponse, out var v) ? TdispResult<byte[]>.Ok(v.Data.ToArray()) : TdispResult<byte[]>.Malformed();
    }

    // ---- IDE_KM [D4] ----

    /// <summary>IDE_KM QUERY; null when the device gave no answer.</summary>
    public IdeKmQueryAnswer? QueryIde(byte portIndex)
    {
        var rsp = ExchangeIdeKm(IdeKmQuery.Write(IdeBody, portIndex));
        if (!IdeKmQueryResponse.TryRead(rsp, out var q))
            return null;
        var regs = new uint[q.RegisterCount];
        for (int i = 0; i < regs.Length; i++)
            regs[i] = q.GetRegister(i);
        return new IdeKmQueryAnswer(q.PortIndex, q.DevFuncNumber, q.BusNumber, q.Segment, q.MaxPortIndex, regs);
    }

    /// <summary>IDE_KM KEY_PROG with a 32-byte key and 8-byte IFV; the KP_ACK's status says whether it took.</summary>
    public IdeKmAck ProgramKey(byte streamId, IdeKeySubStream slot, byte portIndex, ReadOnlySpan<byte> key, ReadOnlySpan<byte> ifv) =>
        IdeAck(IdeKmStreamMessage.WriteKeyProg(IdeBody, streamId, slot, portIndex, key, ifv), IdeKmObjectId.KpAck);

    public IdeKmAck KeySetGo(byte streamId, IdeKeySubStream slot, byte portIndex) =>
        IdeAck(IdeKmStreamMessage.Write(IdeBody, IdeKmObjectId.KSetGo, streamId, slot, portIndex), IdeKmObjectId.KGoStopAck);

    public IdeKmAck KeySetStop(byte streamId, IdeKeySubStream slot, byte portIndex) =>
        IdeAck(IdeKmStreamMessage.Write(IdeBody, IdeKmObjectId.KSetStop, streamId, slot, portIndex), IdeKmObjectId.KGoStopAck);

    /// <summary>Programs key set <paramref name="keySet"/> for every direction and sub-stream of a stream
    /// (keys from <paramref name="keyFor"/>: 32 key bytes then 8 IFV bytes) and starts them. True when all six acked OK.</summary>
    public bool ProgramAndStartStream(byte streamId, byte portIndex, int keySet, Func<IdeKeySubStream, byte[]> keyFor)
    {
        ArgumentNullException.ThrowIfNull(keyFor);
        bool ok = true;
        foreach (var dir in (ReadOnlySpan<IdeKeyDirection>)[IdeKeyDirection.Receive, IdeKeyDirection.Transmit])
            foreach (var ss in (ReadOnlySpan<IdeSubStream>)[IdeSubStream.PostedRequest, IdeSubStream.NonPostedRequest, IdeSubStream.Completion])
            {
                var slot = IdeKeySubStream.Create(keySet, dir, ss);
                byte[] material = keyFor(slot);
                ok &= ProgramKey(streamId, slot, portIndex, material.AsSpan(0, IdeKmStreamMessage.KeySize), material.AsSpan(IdeKmStreamMessage.KeySize, IdeKmStreamMessage.IfvSize)).IsSuccess;
                ok &= KeySetGo(streamId, slot, portIndex).Answered;
            }
        return ok;
    }

    /// <summary>K_SET_STOP for every direction and sub-stream of key set <paramref name="keySet"/> of a stream. True when all six were acknowledged.</summary>
    public bool StopStream(byte streamId, byte portIndex, int keySet)
    {
        bool ok = true;
        foreach (var dir in (ReadOnlySpan<IdeKeyDirection>)[IdeKeyDirection.Receive, IdeKeyDirection.Transmit])
            foreach (var ss in (ReadOnlySpan<IdeSubStream>)[IdeSubStream.PostedRequest, IdeSubStream.NonPostedRequest, IdeSubStream.Completion])
                ok &= KeySetStop(streamId, IdeKeySubStream.Create(keySet, dir, ss), portIndex).Answered;
        return ok;
    }

    private Span<byte> Body => request.AsSpan(1);
    private Span<byte> IdeBody => request.AsSpan(1);

    private TdispOutcome Exchange(int length, TdiFunctionId id, out ReadOnlySpan<byte> message)
    {
        request[0] = (byte)VdmProtocolId.Tdisp;
        int n = transport.Exchange(request.AsSpan(0, 1 + length), response);
        message = n > 1 && response[0] == (byte)VdmProtocolId.Tdisp ? response.AsSpan(1, n - 1) : default;
        if (!TdispHeader.TryRead(message, out var h) || h.Version != TdispHeader.Version10 || h.FunctionId != id)
            return TdispOutcome.MalformedResponse;
        return h.MessageType == (byte)TdispResponseCode.TdispError ? TdispOutcome.DeviceError : TdispOutcome.Success;
    }

    private ReadOnlySpan<byte> ExchangeIdeKm(int length)
    {
        request[0] = (byte)VdmProtocolId.IdeKm;
        int n = transport.Exchange(request.AsSpan(0, 1 + length), response);
        return n > 1 && response[0] == (byte)VdmProtocolId.IdeKm ? response.AsSpan(1, n - 1) : default;
    }

    private IdeKmAck IdeAck(int length, IdeKmObjectId expected)
    {
        var rsp = ExchangeIdeKm(length);
        if (!IdeKmStreamMessage.TryRead(rsp, out var m) || m.ObjectId != expected)
            return default;
        return new IdeKmAck(true, m.ObjectId, expected == IdeKmObjectId.KpAck ? (KpAckStatus)m.Status : KpAckStatus.Success, m.StreamId, m.KeySubStream, m.PortIndex);
    }

    private TdispResult<TdispAck> Ack(int length, TdiFunctionId id, TdispResponseCode expected)
    {
        var r = Exchange(length, id, out var rsp);
        if (r != TdispOutcome.Success)
            return Fail<TdispAck>(r, rsp);
        return HeaderOnlyMessage.TryRead(rsp, (byte)expected, out _) ? TdispResult<TdispAck>.Ok(default) : TdispResult<TdispAck>.Malformed();
    }

    private static TdispResult<T> Fail<T>(TdispOutcome outcome, ReadOnlySpan<byte> message) =>
        outcome == TdispOutcome.DeviceError && TdispErrorResponse.TryRead(message, out var e)
            ? TdispResult<T>.DeviceFailed(e.ErrorCode, e.ErrorData)
            : TdispResult<T>.Malformed();
}

/// <summary>One portion of the report and the bytes that remain after it.</summary>
public sealed record ReportPortion(byte[] Bytes, ushort RemainderLength);
