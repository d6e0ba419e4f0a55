using TsmLab.Kernel.Pci;
using TsmLab.Tdisp.Wire;

namespace TsmLab.Platforms.Tdx.Firmware;

/// <summary>
/// The module's side of the host relay [TX4,TX5]: the TDX module owns the conversation with the
/// device, but every DOE object crosses the host. A leaf that must talk to the device runs its
/// exchange script against this mailbox; the first object the script sends that has no answer
/// yet is written to the leaf's request page (8-byte DOE header included), the leaf returns
/// TDX_SPDM_REQUEST with its length in RCX, and the host relays it and calls the leaf again with
/// the device's answer in the response page. The module then replays the script from the start
/// with the answers it holds (the script is deterministic: keys come from the module's seed,
/// nonces from the device's answers) and gets one object further, until the script completes;
/// state changes only then. This keeps the real relay loop while the TDISP/IDE_KM code stays
/// straight-line.
/// </summary>
/// <remarks>
/// TDISP and IDE_KM travel as SPDM VENDOR_DEFINED in the clear (DOE type 1), as the RMM and PSP
/// models do until the SPDM secured-session work lands; the secured session will put its
/// encryption between this mailbox and the page (DOE type 2, PCI_DOE_PROTOCOL_SECURE_SPDM), and
/// the host relay stays the same (docs/tdx.md, "The SPDM relay").
/// </remarks>
internal sealed class SpdmRelay : IDoeMailbox
{
    /// <summary>The request and response pages are one page each [TX4].</summary>
    public const int PageSize = 4096;

    private List<byte[]> answers = [];
    private int next;

    /// <summary>The first object that had no answer during the current run, or null.</summary>
    public byte[]? Pending { get; private set; }

    public int MaxResponseSize => PageSize;

    /// <summary>Starts a replay over <paramref name="recorded"/>.</summary>
    public void Begin(List<byte[]> recorded)
    {
        answers = recorded;
        next = 0;
        Pending = null;
    }

    /// <summary>Answers the objects already relayed in order; the first new one becomes <see cref="Pending"/> and gets no answer.</summary>
    public int Exchange(ReadOnlySpan<byte> requestObject, Span<byte> responseObject)
    {
        if (Pending is not null) return 0;
        if (next < answers.Count)
        {
            var a = answers[next++];
            if (a.Length > responseObject.Length) return 0;
            a.CopyTo(responseObject);
            return a.Length;
        }
        if (requestObject.Length > PageSize) return 0;
        Pending = requestObject.ToArray();
        return 0;
    }

    /// <summary>The DOE object in a response page, or an empty answer when its header is not a valid object that fits.</summary>
    public static byte[] ReadAnswer(ReadOnlySpan<byte> page)
    {
        if (!DoeHeader.TryRead(page, out var h) || h.LengthBytes > page.Length || h.LengthBytes <= DoeHeader.Size) return [];
        return page[..h.LengthBytes].ToArray();
    }
}
