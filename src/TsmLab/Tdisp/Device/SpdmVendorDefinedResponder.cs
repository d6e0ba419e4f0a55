using TsmLab.Tdisp.Wire;

namespace TsmLab.Tdisp.Device;

/// <summary>Answers SPDM messages, one in, one out.</summary>
/// <remarks>
/// The SPDM layer in front of the device [D2,D3] (§5.1): unwraps VENDOR_DEFINED_REQUEST (classic or
/// SPDM 1.4 large form), hands the PCI-SIG payload to an IVdmResponder, and wraps the answer in
/// VENDOR_DEFINED_RESPONSE of the same version and form. Anything else, or a payload the device
/// does not answer, gets SPDM ERROR InvalidRequest (0x01), as libspdm does. A secure-session layer
/// would sit between DoeMailbox and this class, decrypting into it; the device does not change.
/// </remarks>
public interface ISpdmResponder
{
    int MaxResponseSize { get; }

    /// <summary>Answers one SPDM message; returns the response size.</summary>
    int Respond(ReadOnlySpan<byte> request, Span<byte> response);
}

/// <summary>SPDM VENDOR_DEFINED (PCI-SIG) framing around an <see cref="IVdmResponder"/> [D2,D3].</summary>
public sealed class SpdmVendorDefinedResponder(IVdmResponder device) : ISpdmResponder
{
    public const byte SpdmErrorInvalidRequest = 0x01;

    private readonly byte[] payload = new byte[device.MaxResponseSize];

    public int MaxResponseSize => SpdmVendorDefinedMessage.LargeHeaderSize + device.MaxResponseSize;

    public int Respond(ReadOnlySpan<byte> request, Span<byte> response)
    {
        byte version = request.IsEmpty ? SpdmVendorDefinedMessage.SpdmVersion12 : request[0];
        if (!SpdmVendorDefinedMessage.TryRead(request, out var msg) || msg.Code != SpdmVendorDefinedMessage.RequestCode)
            return SpdmVendorDefinedMessage.WriteSpdmError(response, version, SpdmErrorInvalidRequest);
        int n = device.Respond(msg.Payload, payload);
        if (n == 0)
            return SpdmVendorDefinedMessage.WriteSpdmError(response, version, SpdmErrorInvalidRequest);
        return SpdmVendorDefinedMessage.Write(response, msg.SpdmVersion, SpdmVendorDefinedMessage.ResponseCode, msg.IsLarge, payload.AsSpan(0, n));
    }
}
