using TsmLab.Tdisp.Wire;

namespace TsmLab.Tdisp.Device;

/// <summary>A function's DOE mailbox: unwraps DOE objects and frames the answers [D2].</summary>
/// <remarks>
/// The device's DOE mailbox [D2] (§5.1): one DOE data object in (8-byte header, DWORD-padded), one
/// out. Type 1 (SPDM) goes to the SPDM responder; type 2 (SECURED_SPDM) needs a session layer that
/// a later issue adds (pass one as the secured responder); anything else gets no response.
/// </remarks>
public sealed class DoeMailbox(ISpdmResponder spdm, ISpdmResponder? securedSpdm = null) : TsmLab.Kernel.Pci.IDoeMailbox, ISpdmIdentityStandIn
{
    /// <summary>A mailbox answering SPDM VENDOR_DEFINED messages for <paramref name="device"/>.</summary>
    public static DoeMailbox For(IVdmResponder device) => new(new SpdmVendorDefinedResponder(device));

    /// <summary>
    /// Stand-in for SPDM GET_CERTIFICATE / GET_MEASUREMENTS until the device answers SPDM itself:
    /// the device identity those responses would carry. The one path from a host to the device
    /// that is not DOE bytes; removed by the SPDM work (docs/design.md, "The device seam").
    /// </summary>
    public Func<DeviceIdentity>? StandInIdentity { get; set; }

    public int MaxResponseSize => DoeHeader.ObjectSize(Math.Max(spdm.MaxResponseSize, securedSpdm?.MaxResponseSize ?? 0));

    /// <summary>Answers one DOE object; returns the response object's size, or 0 when the object is
    /// malformed or of a type with no responder (a real mailbox would discard it).</summary>
    public int Exchange(ReadOnlySpan<byte> requestObject, Span<byte> responseObject)
    {
        if (!DoeHeader.TryRead(requestObject, out var h) || h.VendorId != DoeHeader.VendorPciSig || h.LengthBytes > requestObject.Length)
            return 0;
        var responder = h.Type switch
        {
            DoeObjectType.Spdm => spdm,
            DoeObjectType.SecuredSpdm => securedSpdm,
            _ => null,
        };
        if (responder is null)
            return 0;
        var body = requestObject[DoeHeader.Size..h.LengthBytes];
        var outBody = responseObject[DoeHeader.Size..];
        int n = responder.Respond(body, outBody);
        int padded = (n + 3) & ~3;
        outBody[n..padded].Clear();
        DoeHeader.Write(responseObject, h.Type, n);
        return DoeHeader.Size + padded;
    }
}
