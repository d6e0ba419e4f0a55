using System.Buffers.Binary;
using TsmLab.Tdisp.Wire;

namespace TsmLab.Tdisp.Device;

/// <summary>A function's DOE mailbox: DOE discovery, and SPDM / secured SPDM objects for the device's SPDM responder [D2,SP3].</summary>
/// <remarks>
/// The device's DOE mailbox [D2] (§5.1): one DOE data object in (8-byte header, DWORD-padded), one
/// out. Type 0 (DOE discovery) is answered here: request body index u8, version u8 (0), reserved
/// u16; response body vendor_id u16 (0x0001), protocol u8, next_index u8, for the protocols 0
/// discovery, 1 SPDM and 2 secured SPDM (shared/spec/spdm.md). Types 1 and 2 go to the SPDM endpoint
/// (SpdmResponder), which picks the response type. A malformed object (short, wrong vendor, a length
/// field beyond the bytes delivered or not covering them up to DWORD padding) gets no response, as
/// a real mailbox discards it.
/// </remarks>
public sealed class DoeMailbox : TsmLab.Kernel.Pci.IDoeMailbox
{
    private static readonly byte[] Protocols = [(byte)DoeObjectType.Discovery, (byte)DoeObjectType.Spdm, (byte)DoeObjectType.SecuredSpdm];

    private readonly ISpdmDoeEndpoint endpoint;

    /// <summary>A mailbox in front of an SPDM endpoint.</summary>
    public DoeMailbox(ISpdmDoeEndpoint endpoint) => this.endpoint = endpoint;

    /// <summary>A mailbox answering plain SPDM VENDOR_DEFINED messages for <paramref name="device"/> (no SPDM connection; tests of the TDISP device alone).</summary>
    public static DoeMailbox For(IVdmResponder device) => new(new PlainVendorDefinedEndpoint(new SpdmVendorDefinedResponder(device)));

    public int MaxResponseSize => DoeHeader.ObjectSize(Math.Max(endpoint.MaxResponseSize, 4));

    /// <summary>Answers one DOE object; returns the response object's size, or 0 when the object is
    /// malformed or of a type with no responder (a real mailbox would discard it).</summary>
    public int Exchange(ReadOnlySpan<byte> requestObject, Span<byte> responseObject)
    {
        if (!DoeHeader.TryRead(requestObject, out var h) || h.VendorId != DoeHeader.VendorPciSig
            || h.LengthBytes > requestObject.Length || requestObject.Length - h.LengthBytes > 3)
            return 0;
        var body = requestObject[DoeHeader.Size..h.LengthBytes];
        var outBody = responseObject[DoeHeader.Size..];
        int n;
        DoeObjectType type;
        if (h.Type == DoeObjectType.Discovery)
        {
            n = Discovery(body, outBody);
            type = DoeObjectType.Discovery;
        }
        else if (h.Type is DoeObjectType.Spdm or DoeObjectType.SecuredSpdm)
        {
            n = endpoint.Respond(h.Type, body, outBody, out type);
        }
        else
        {
            return 0;
        }
        if (n <= 0)
            return 0;
        int padded = (n + 3) & ~3;
        outBody[n..padded].Clear();
        DoeHeader.Write(responseObject, type, n);
        return DoeHeader.Size + padded;
    }

    /// <summary>DOE discovery: the protocol at the requested index and the next index (0 after the last).</summary>
    private static int Discovery(ReadOnlySpan<byte> body, Span<byte> outBody)
    {
        if (body.Length < 4 || body[1] != 0)
            return 0;
        int index = body[0] < Protocols.Length ? body[0] : 0;
        BinaryPrimitives.WriteUInt16LittleEndian(outBody, DoeHeader.VendorPciSig);
        outBody[2] = Protocols[index];
        outBody[3] = (byte)(index + 1 < Protocols.Length ? index + 1 : 0);
        return 4;
    }

    /// <summary>Type 1 straight to an <see cref="ISpdmResponder"/>; type 2 unanswered (no session layer).</summary>
    private sealed class PlainVendorDefinedEndpoint(ISpdmResponder spdm) : ISpdmDoeEndpoint
    {
        public int MaxResponseSize => spdm.MaxResponseSize;

        public int Respond(DoeObjectType type, ReadOnlySpan<byte> body, Span<byte> responseBody, out DoeObjectType responseType)
        {
            responseType = type;
            return type == DoeObjectType.Spdm ? spdm.Respond(body, responseBody) : 0;
        }
    }
}
