using TsmLab.Tdisp.Wire;

namespace TsmLab.Tdisp.Device;

/// <summary>Answers one validated request; returns the response size.</summary>
/// <remarks>
/// The TDISP dispatch table (STYLE: like iommufd's ioctl table and libspdm's handler table): one
/// row per request code with its exact (or minimum) size [D1 §5.3] and the TDI states it is allowed
/// in [§5.6]. The DSM does every generic check from the row; handlers see a request of the right
/// size and state and only decide what is special about it.
/// </remarks>
internal delegate int TdispRequestHandler(DeviceSecurityManager dsm, Tdi tdi, ReadOnlySpan<byte> request, Span<byte> response);

/// <summary>A bit per <see cref="TdiState"/>.</summary>
[Flags]
internal enum TdiStates : byte
{
    None = 0,
    Unlocked = 1 << TdiState.ConfigUnlocked,
    Locked = 1 << TdiState.ConfigLocked,
    Run = 1 << TdiState.Run,
    Error = 1 << TdiState.Error,
    Any = Unlocked | Locked | Run | Error,
}

internal sealed record TdispRequestRoute(TdispRequestCode Code, int Size, bool VariableSize, TdiStates Allowed, TdispRequestHandler Handler)
{
    public bool SizeOk(int length) => VariableSize ? length >= Size : length == Size;
    public bool AllowedIn(TdiState s) => (Allowed & (TdiStates)(1 << (int)s)) != 0;
}

internal static class TdispRequestTable
{
    private static readonly TdispRequestRoute?[] Routes = Build();

    /// <summary>The row for <paramref name="code"/>, or null for a code TDISP does not define.</summary>
    public static TdispRequestRoute? Lookup(byte code) => code is >= 0x81 and <= 0x8C ? Routes[code - 0x81] : null;

    private static TdispRequestRoute?[] Build()
    {
        TdispRequestRoute[] rows =
        [
            new(TdispRequestCode.GetTdispVersion, HeaderOnlyMessage.Size, false, TdiStates.Any, TdispRequestHandlers.GetVersion),
            new(TdispRequestCode.GetTdispCapabilities, GetTdispCapabilitiesRequest.Size, false, TdiStates.Any, TdispRequestHandlers.GetCapabilities),
            new(TdispRequestCode.LockInterface, LockInterfaceRequest.Size, false, TdiStates.Unlocked, TdispRequestHandlers.LockInterface),
            new(TdispRequestCode.GetDeviceInterfaceReport, GetDeviceInterfaceReportRequest.Size, false, TdiStates.Locked | TdiStates.Run, TdispRequestHandlers.GetReport),
            new(TdispRequestCode.GetDeviceInterfaceState, HeaderOnlyMessage.Size, false, TdiStates.Any, TdispRequestHandlers.GetState),
            new(TdispRequestCode.StartInterface, StartInterfaceRequest.Size, false, TdiStates.Locked, TdispRequestHandlers.StartInterface),
            // Allowed everywhere; CONFIG_UNLOCKED is decided by the StopInUnlocked policy in the handler.
            new(TdispRequestCode.StopInterface, HeaderOnlyMessage.Size, false, TdiStates.Any, TdispRequestHandlers.StopInterface),
            new(TdispRequestCode.BindP2pStream, BindP2pStreamRequest.Size, false, TdiStates.Run, TdispRequestHandlers.BindP2pStream),
            new(TdispRequestCode.UnbindP2pStream, UnbindP2pStreamRequest.Size, false, TdiStates.Run, TdispRequestHandlers.UnbindP2pStream),
            new(TdispRequestCode.SetMmioAttribute, SetMmioAttributeRequest.Size, false, TdiStates.Run, TdispRequestHandlers.SetMmioAttribute),
            new(TdispRequestCode.VdmRequest, VdmMessage.FixedSize, true, TdiStates.Any, TdispRequestHandlers.Vdm),
            new(TdispRequestCode.SetTdispConfig, SetTdispConfigRequest.Size, false, TdiStates.Unlocked, TdispRequestHandlers.SetTdispConfig),
        ];
        var table = new TdispRequestRoute?[12];
        foreach (var r in rows)
            table[(int)r.Code - 0x81] = r;
        return table;
    }
}
