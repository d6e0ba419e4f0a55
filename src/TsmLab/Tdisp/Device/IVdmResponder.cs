namespace TsmLab.Tdisp.Device;

/// <summary>Answers PCI-SIG vendor-defined payloads (protocol_id 0x00 IDE_KM / 0x01 TDISP) [D2].</summary>
/// <remarks>
/// The seam between the device and its transport: a PCI-SIG vendor-defined payload (protocol_id
/// byte + protocol message) in, the response payload out. SPDM VENDOR_DEFINED framing, a future
/// SPDM secure session, and the DOE mailbox are layers around this interface; none of them reaches
/// into the device (see docs/tdisp.md, "Transport seam").
/// </remarks>
public interface IVdmResponder
{
    /// <summary>The largest response <see cref="Respond"/> can write.</summary>
    int MaxResponseSize { get; }

    /// <summary>Answers <paramref name="request"/> into <paramref name="response"/> (at least
    /// <see cref="MaxResponseSize"/> bytes). Returns the bytes written, or 0 when the message gets no
    /// protocol answer (unknown protocol_id, malformed IDE_KM): the SPDM layer then answers ERROR.</summary>
    int Respond(ReadOnlySpan<byte> request, Span<byte> response);
}
