using TsmLab.Tdisp.Wire;

namespace TsmLab.Tdisp.Device;

/// <summary>
/// What each TDISP request does once the DSM has checked its size and the TDI's state
/// (TdispRequestTable). Every rejection is a TDISP_ERROR written before any state changes, so an
/// error leaves the TDI as it was. Sources: [D1] layouts, [E1-E4] spdm-emu behaviour, [V1] the
/// Intel validator; where they are silent the choice is documented in docs/tdisp.md.
/// </summary>
internal static class TdispRequestHandlers
{
    private static ReadOnlySpan<byte> SupportedVersions => [TdispHeader.Version10];

    public static int GetVersion(DeviceSecurityManager dsm, Tdi tdi, ReadOnlySpan<byte> request, Span<byte> response) =>
        TdispVersionResponse.Write(response, FunctionIdOf(request), SupportedVersions);

    public static int GetCapabilities(DeviceSecurityManager dsm, Tdi tdi, ReadOnlySpan<byte> request, Span<byte> response) =>
        TdispCapabilitiesResponse.Write(response, FunctionIdOf(request), dsm.Capabilities);

    public static int GetState(DeviceSecurityManager dsm, Tdi tdi, ReadOnlySpan<byte> request, Span<byte> response) =>
        DeviceInterfaceStateResponse.Write(response, FunctionIdOf(request), tdi.State);

    /// <summary>[D1,E1,V1]: flags within the supported set, a known IDE stream with keys started
    /// (policy), a 4 KiB-aligned reporting offset that does not overflow, then a fresh nonce.</summary>
    public static int LockInterface(DeviceSecurityManager dsm, Tdi tdi, ReadOnlySpan<byte> request, Span<byte> response)
    {
        LockInterfaceRequest.TryRead(request, out var req);
        var p = req.Parameters;
        var id = req.FunctionId;
        if ((p.Flags & ~dsm.Capabilities.LockFlagsSupported) != 0)
            return Error(response, id, TdispErrorCode.InvalidRequest);
        if (p.MmioReportingOffset % MmioRange.PageSize != 0 || !tdi.ReportFits(p.MmioReportingOffset))
            return Error(response, id, TdispErrorCode.InvalidRequest);
        if (!dsm.IdeKeys.HasStream(p.DefaultStreamId))
            return Error(response, id, TdispErrorCode.InvalidRequest);
        if (dsm.RequireIdeKeysForLock && !dsm.IdeKeys.IsStreamReady(p.DefaultStreamId))
            return Error(response, id, TdispErrorCode.InvalidRequest);
        Span<byte> nonce = stackalloc byte[LockInterfaceResponse.NonceSize];
        if (!dsm.Entropy.TryFill(nonce))
            return Error(response, id, TdispErrorCode.InsufficientEntropy);
        tdi.Lock(p, nonce, dsm.ReportInterfaceInfo, dsm.Configuration.Tdisp.DeviceSpecificInfo);
        int n = LockInterfaceResponse.Write(response, id, nonce);
        nonce.Clear();
        return n;
    }

    /// <summary>[E2]: length 0 or offset at/after the end is INVALID_REQUEST; the portion is clipped
    /// to the device's maximum and to what is left; remainder = size - (offset + portion).</summary>
    public static int GetReport(DeviceSecurityManager dsm, Tdi tdi, ReadOnlySpan<byte> request, Span<byte> response)
    {
        GetDeviceInterfaceReportRequest.TryRead(request, out var req);
        int size = tdi.ReportLength;
        if (req.Length == 0 || req.Offset >= size)
            return Error(response, req.FunctionId, TdispErrorCode.InvalidRequest);
        int portion = Math.Min(Math.Min(req.Length, dsm.Configuration.Tdisp.MaxReportPortion), size - req.Offset);
        return DeviceInterfaceReportResponse.Write(response, req.FunctionId, tdi.Report.Slice(req.Offset, portion),
            (ushort)(size - (req.Offset + portion)));
    }

    /// <summary>[E4]: the nonce is compared in constant time; a mismatch is INVALID_NONCE and the TDI stays LOCKED.</summary>
    public static int StartInterface(DeviceSecurityManager dsm, Tdi tdi, ReadOnlySpan<byte> request, Span<byte> response)
    {
        StartInterfaceRequest.TryRead(request, out var req);
        if (!tdi.NonceMatches(req.Nonce))
            return Error(response, req.FunctionId, TdispErrorCode.InvalidNonce);
        tdi.Start();
        return HeaderOnlyMessage.WriteStartInterfaceResponse(response, req.FunctionId);
    }

    /// <summary>LOCKED/RUN/ERROR -> UNLOCKED; in UNLOCKED the policy decides ([V1] success, [E4] error).</summary>
    public static int StopInterface(DeviceSecurityManager dsm, Tdi tdi, ReadOnlySpan<byte> request, Span<byte> response)
    {
        var id = FunctionIdOf(request);
        if (tdi.State == TdiState.ConfigUnlocked && dsm.StopInUnlockedPolicy == StopInUnlockedPolicy.RejectInvalidInterfaceState)
            return Error(response, id, TdispErrorCode.InvalidInterfaceState);
        tdi.Stop();
        return HeaderOnlyMessage.WriteStopInterfaceResponse(response, id);
    }

    /// <summary>RUN only; needs BIND_P2P in the lock flags, an unbound stream id, and stream_config
    /// with only b0 (XT), which needs XT support.</summary>
    public static int BindP2pStream(DeviceSecurityManager dsm, Tdi tdi, ReadOnlySpan<byte> request, Span<byte> response)
    {
        BindP2pStreamRequest.TryRead(request, out var req);
        bool p2pLocked = tdi.LockParameters is { } p && (p.Flags & LockInterfaceFlags.BindP2p) != 0;
        bool configOk = (req.StreamConfig & ~BindP2pStreamRequest.StreamConfigXtEnable) == 0
            && ((req.StreamConfig & BindP2pStreamRequest.StreamConfigXtEnable) == 0 || dsm.Configuration.Tdisp.XtSupported);
        if (!p2pLocked || !configOk || tdi.IsP2pStreamBound(req.P2pStreamId))
            return Error(response, req.FunctionId, TdispErrorCode.InvalidRequest);
        tdi.BindP2p(req.P2pStreamId);
        return HeaderOnlyMessage.WriteBindP2pStreamResponse(response, req.FunctionId);
    }

    /// <summary>RUN only; the stream must be bound.</summary>
    public static int UnbindP2pStream(DeviceSecurityManager dsm, Tdi tdi, ReadOnlySpan<byte> request, Span<byte> response)
    {
        UnbindP2pStreamRequest.TryRead(request, out var req);
        if (!tdi.IsP2pStreamBound(req.P2pStreamId))
            return Error(response, req.FunctionId, TdispErrorCode.InvalidRequest);
        tdi.UnbindP2p(req.P2pStreamId);
        return HeaderOnlyMessage.WriteUnbindP2pStreamResponse(response, req.FunctionId);
    }

    /// <summary>RUN only; the range must equal a reported range (first_page, pages, range_id) that is
    /// IS_MEM_ATTR_UPDATABLE, and only IS_NON_TEE_MEM may change. The report is updated in place.</summary>
    public static int SetMmioAttribute(DeviceSecurityManager dsm, Tdi tdi, ReadOnlySpan<byte> request, Span<byte> response)
    {
        SetMmioAttributeRequest.TryRead(request, out var req);
        var want = req.Range;
        int index = tdi.FindReportedRange(want);
        if (index < 0)
            return Error(response, req.FunctionId, TdispErrorCode.InvalidRequest);
        var have = tdi.GetReportedRange(index);
        const MmioRangeAttributes changeable = MmioRangeAttributes.IsNonTeeMem;
        if ((have.Attributes & MmioRangeAttributes.IsMemAttrUpdatable) == 0
            || ((ushort)want.Attributes & MmioRange.ReservedAttributeMask) != 0
            || (want.Attributes & ~changeable) != (have.Attributes & ~changeable))
            return Error(response, req.FunctionId, TdispErrorCode.InvalidRequest);
        tdi.SetReportedRange(index, have with { Attributes = want.Attributes });
        return HeaderOnlyMessage.WriteSetMmioAttributeResponse(response, req.FunctionId);
    }

    /// <summary>The model has no vendor protocol: a well-formed VDM_REQUEST (registry 0 or 1) gets a
    /// VDM_RESPONSE with the same registry and vendor id and no data.</summary>
    public static int Vdm(DeviceSecurityManager dsm, Tdi tdi, ReadOnlySpan<byte> request, Span<byte> response)
    {
        var id = FunctionIdOf(request);
        if (!VdmMessage.TryRead(request, (byte)TdispRequestCode.VdmRequest, out var req) || req.RegistryId > VdmMessage.RegistryCxl)
            return Error(response, id, TdispErrorCode.InvalidRequest);
        return VdmMessage.Write(response, (byte)TdispResponseCode.VdmResponse, id, req.RegistryId, req.VendorId, default);
    }

    /// <summary>DSM-wide, so every TDI must be UNLOCKED; XT bits need XT support; other bits are reserved.</summary>
    public static int SetTdispConfig(DeviceSecurityManager dsm, Tdi tdi, ReadOnlySpan<byte> request, Span<byte> response)
    {
        SetTdispConfigRequest.TryRead(request, out var req);
        const TdispDsmConfig known = TdispDsmConfig.XtModeEnable | TdispDsmConfig.XtBitForLockedMsix;
        if ((req.DsmConfig & ~known) != 0 || (req.DsmConfig != 0 && !dsm.Configuration.Tdisp.XtSupported))
            return Error(response, req.FunctionId, TdispErrorCode.InvalidRequest);
        if (!dsm.AllInterfacesUnlocked())
            return Error(response, req.FunctionId, TdispErrorCode.InvalidInterfaceState);
        dsm.DsmConfig = req.DsmConfig;
        return HeaderOnlyMessage.WriteSetTdispConfigResponse(response, req.FunctionId);
    }

    internal static int Error(Span<byte> response, TdiFunctionId id, TdispErrorCode code, uint data = 0) =>
        TdispErrorResponse.Write(response, id, code, data);

    private static TdiFunctionId FunctionIdOf(ReadOnlySpan<byte> request) =>
        TdispHeader.TryRead(request, out var h) ? h.FunctionId : default;
}
