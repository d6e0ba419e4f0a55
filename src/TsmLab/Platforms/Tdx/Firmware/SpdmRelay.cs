using TsmLab.Tdisp.Wire;

namespace TsmLab.Platforms.Tdx.Firmware;

/// <summary>
/// The module's side of the host relay [TX4,TX5]: the TDX module owns the SPDM conversation with the
/// device (its requester, the secured session, IDE_KM and TDISP inside it), but every DOE object
/// crosses the host. A leaf that must talk to the device starts (or resumes) an asynchronous flow
/// awaiting the SPDM object's <see cref="Spdm.Requester.RelayChannel"/>; the object the flow waits on
/// is written to the leaf's request page (8-byte DOE header included), the leaf returns
/// TDX_SPDM_REQUEST with its length in RCX, and the host relays it and calls the leaf again with the
/// device's answer in the response page, which resumes the flow. State changes only when the flow
/// completes with success.
/// </summary>
internal static class SpdmRelay
{
    /// <summary>The request and response pages are one page each [TX4].</summary>
    public const int PageSize = 4096;

    /// <summary>The DOE object in a response page, or empty when its header is not a valid object that fits.</summary>
    public static ReadOnlySpan<byte> Answer(ReadOnlySpan<byte> page)
    {
        if (!DoeHeader.TryRead(page, out var h) || h.LengthBytes > page.Length || h.LengthBytes <= DoeHeader.Size) return default;
        return page[..h.LengthBytes];
    }
}
