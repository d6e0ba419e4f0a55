using TsmLab.Tdisp.Wire;

namespace TsmLab.Tdisp.Device;

/// <summary>What a DOE mailbox hands SPDM objects to: the body of a type 1 (SPDM) or type 2 (secured SPDM) object in, a body out [D2].</summary>
/// <remarks>
/// The seam between the mailbox and the SPDM responder (Spdm/Responder/SpdmResponder): the
/// responder may answer a secured object in the clear (an ERROR after the session ended), so it
/// chooses the response object's type.
/// </remarks>
public interface ISpdmDoeEndpoint
{
    /// <summary>The largest body <see cref="Respond"/> writes.</summary>
    int MaxResponseSize { get; }

    /// <summary>Answers one object body; returns the response body's size (0 = no answer) and its object type.</summary>
    int Respond(DoeObjectType type, ReadOnlySpan<byte> body, Span<byte> responseBody, out DoeObjectType responseType);
}
