using TsmLab.Spdm.Session;
using TsmLab.Tdisp.Requester;

namespace TsmLab.Spdm.Requester;

/// <summary>
/// TDISP and IDE_KM inside an SPDM session: each PCI-SIG vendor-defined payload (protocol id and
/// message) travels as a VENDOR_DEFINED_REQUEST in a secured message of <see cref="Session"/>, so the
/// <see cref="TdispRequester"/> the platforms use runs unchanged over it. <see cref="Exchange"/>
/// blocks on the requester's channel (a mailbox, a socket mailbox: channels that complete at once);
/// <see cref="ExchangeAsync"/> yields while a relayed channel waits for the host.
/// <see cref="LastFailure"/> keeps the SPDM-level reason when an exchange gave no protocol answer.
/// </summary>
public sealed class SecuredVdmTransport(SpdmRequester requester, SpdmSession session) : ITdispTransport, IAsyncTdispTransport
{
    public SpdmSession Session { get; } = session;

    /// <summary>Why the last exchange answered nothing (empty after a successful one).</summary>
    public string LastFailure { get; private set; } = "";

    // Reused per exchange: one request and one answer in flight at a time.
    private byte[] payload = new byte[4096], answer = new byte[1 << 16];

    public int Exchange(ReadOnlySpan<byte> request, Span<byte> response)
    {
        if (payload.Length < request.Length) payload = new byte[request.Length];
        if (answer.Length < response.Length) answer = new byte[response.Length];
        request.CopyTo(payload);
        var pending = requester.VendorDefinedAsync(Session, payload.AsMemory(0, request.Length), answer.AsMemory(0, response.Length));
        var (result, length) = SyncChannelWait.Result(pending);
        if (!result.Ok || length < 0)
        {
            LastFailure = result.ToString();
            return 0;
        }
        LastFailure = "";
        answer.AsSpan(0, length).CopyTo(response);
        return length;
    }

    /// <summary>The payload goes out as its own secured object; completes when the host delivered the answer (0 = none, <see cref="LastFailure"/> says why).</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<int> ExchangeAsync(ReadOnlyMemory<byte> request, Memory<byte> response)
    {
        var (result, length) = await requester.VendorDefinedAsync(Session, request, response).ConfigureAwait(false);
        if (!result.Ok || length < 0)
        {
            LastFailure = result.ToString();
            return 0;
        }
        LastFailure = "";
        return length;
    }
}
