using TsmLab.Tdisp.Device;
using TsmLab.Tdisp.Wire;

namespace TsmLab.Tdisp.Requester;

/// <summary>Carries one vendor-defined payload to the device and its answer back.</summary>
/// <remarks>
/// How the TSM side reaches a device: one PCI-SIG vendor-defined payload (protocol_id + message)
/// out, one back. DirectTransport calls the device in process; DoeTransport adds the SPDM
/// VENDOR_DEFINED and DOE framing a real mailbox sees [D2,D3]. A secure-session transport would
/// implement the same interface.
/// </remarks>
public interface ITdispTransport
{
    /// <summary>Sends <paramref name="request"/> and writes the answer into <paramref name="response"/>;
    /// returns its size, or 0 when the device (or its SPDM layer) gave no protocol answer.</summary>
    int Exchange(ReadOnlySpan<byte> request, Span<byte> response);
}

/// <summary>
/// The same one-payload-out, one-back exchange for a requester that yields while its payload travels
/// (firmware whose every DOE object the host relays, one object per firmware call): completes with
/// the answer's size, or 0 when the device (or its SPDM layer) gave no protocol answer.
/// </summary>
public interface IAsyncTdispTransport
{
    /// <summary>Sends <paramref name="request"/>; completes once the answer is in <paramref name="response"/>, with its size.</summary>
    ValueTask<int> ExchangeAsync(ReadOnlyMemory<byte> request, Memory<byte> response);
}

/// <summary>Calls the device's <see cref="IVdmResponder"/> directly, in process.</summary>
public sealed class DirectTransport(IVdmResponder device) : ITdispTransport
{
    private readonly byte[] buffer = new byte[device.MaxResponseSize];

    public int Exchange(ReadOnlySpan<byte> request, Span<byte> response)
    {
        if (response.Length >= device.MaxResponseSize)
            return device.Respond(request, response);
        int n = device.Respond(request, buffer);
        buffer.AsSpan(0, n).CopyTo(response);
        return n;
    }
}

/// <summary>Frames payloads as SPDM VENDOR_DEFINED_REQUEST in a DOE object, and unframes the answer [D2,D3].</summary>
/// <param name="mailbox">The device's DOE mailbox.</param>
/// <param name="spdmVersion">The negotiated SPDM version byte (0x12 by default).</param>
/// <param name="largePayload">Use the SPDM 1.4 large VENDOR_DEFINED form (needs version 0x14 or later).</param>
public sealed class DoeTransport(TsmLab.Kernel.Pci.IDoeMailbox mailbox, byte spdmVersion = SpdmVendorDefinedMessage.SpdmVersion12, bool largePayload = false) : ITdispTransport
{
    private byte[] request = new byte[256];
    private readonly byte[] response = new byte[mailbox.MaxResponseSize];

    /// <summary>The last SPDM response when it was not VENDOR_DEFINED_RESPONSE (e.g. SPDM ERROR), for diagnostics.</summary>
    public byte LastSpdmCode { get; private set; }

    public int Exchange(ReadOnlySpan<byte> request, Span<byte> response)
    {
        if (largePayload && spdmVersion < SpdmVendorDefinedMessage.SpdmVersion14)
            throw new InvalidOperationException("the large VENDOR_DEFINED form needs SPDM 1.4");
        int spdmSize = SpdmVendorDefinedMessage.HeaderSize(largePayload) + request.Length;
        int objectSize = DoeHeader.ObjectSize(spdmSize);
        if (this.request.Length < objectSize)
            this.request = new byte[objectSize];
        var obj = this.request.AsSpan(0, objectSize);
        int written = SpdmVendorDefinedMessage.Write(obj[DoeHeader.Size..], spdmVersion, SpdmVendorDefinedMessage.RequestCode, largePayload, request);
        obj[(DoeHeader.Size + written)..].Clear();
        DoeHeader.Write(obj, DoeObjectType.Spdm, written);
        int n = mailbox.Exchange(obj, this.response);
        if (n == 0 || !DoeHeader.TryRead(this.response.AsSpan(0, n), out var h) || h.LengthBytes > n)
            return 0;
        var spdm = this.response.AsSpan(DoeHeader.Size, h.LengthBytes - DoeHeader.Size);
        LastSpdmCode = spdm.Length > 1 ? spdm[1] : (byte)0;
        if (!SpdmVendorDefinedMessage.TryRead(spdm, out var msg) || msg.Code != SpdmVendorDefinedMessage.ResponseCode)
            return 0;
        int length = msg.Payload.Length;
        msg.Payload[..length].CopyTo(response);
        return length;
    }
}
