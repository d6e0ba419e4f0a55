using TsmLab.Kernel.Pci;
using TsmLab.Tdisp.Device;
using TsmLab.Tdisp.Requester;
using TsmLab.Tdisp.Wire;

namespace TsmLab.Tests.Tdisp;

/// <summary>
/// Test doubles that sit on the link between a TSM and the device and flip one byte of the nonce in
/// the next START_INTERFACE_REQUEST (a stale or corrupted nonce, as a buggy firmware or a tampering
/// path would send): one wraps a TDISP transport (firmware-level tests), one a DOE mailbox (whole
/// hosts). The device must refuse, and nothing else may change.
/// </summary>
internal static class StartNonceTamper
{
    /// <summary>Offset of the nonce inside a TDISP START_INTERFACE_REQUEST.</summary>
    private const int NonceOffset = TdispHeader.Size;

    /// <summary>Flips the nonce of <paramref name="tdisp"/> (a TDISP message) when it is a START request; true when it did.</summary>
    public static bool Tamper(Span<byte> tdisp, byte xor)
    {
        if (xor == 0 || tdisp.Length < StartInterfaceRequest.Size || tdisp[1] != (byte)TdispRequestCode.StartInterface) return false;
        tdisp[NonceOffset] ^= xor;
        return true;
    }

    /// <summary>A TDISP/IDE_KM transport (protocol byte, then the message) that tampers once.</summary>
    internal sealed class Transport(ITdispTransport inner) : ITdispTransport
    {
        public byte XorNext { get; set; }

        public int Exchange(ReadOnlySpan<byte> request, Span<byte> response)
        {
            if (XorNext == 0 || request.Length < 2 || request[0] != (byte)VdmProtocolId.Tdisp) return inner.Exchange(request, response);
            var copy = request.ToArray();
            if (Tamper(copy.AsSpan(1), XorNext)) XorNext = 0;
            return inner.Exchange(copy, response);
        }
    }

    /// <summary>A DOE mailbox (DOE object, SPDM VENDOR_DEFINED, protocol byte, TDISP) that tampers once: the START nonce in the clear, or a ciphertext byte of the next secured object.</summary>
    internal sealed class Mailbox(DoeMailbox inner) : IDoeMailbox
    {
        public byte XorNext { get; set; }
        public int MaxResponseSize => inner.MaxResponseSize;

        public int Exchange(ReadOnlySpan<byte> requestObject, Span<byte> responseObject)
        {
            int tdisp = DoeHeader.Size + SpdmVendorDefinedMessage.ClassicHeaderSize + 1;
            if (XorNext != 0 && requestObject.Length > DoeHeader.Size + 16 && requestObject[2] == (byte)DoeObjectType.SecuredSpdm)
            {
                // Inside a session the host sees only ciphertext: it flips a byte of the next secured request instead.
                var sealedCopy = requestObject.ToArray();
                sealedCopy[DoeHeader.Size + 12] ^= XorNext;
                XorNext = 0;
                return inner.Exchange(sealedCopy, responseObject);
            }
            if (XorNext == 0 || requestObject.Length <= tdisp || requestObject[tdisp - 1] != (byte)VdmProtocolId.Tdisp)
                return inner.Exchange(requestObject, responseObject);
            var copy = requestObject.ToArray();
            if (Tamper(copy.AsSpan(tdisp), XorNext)) XorNext = 0;
            return inner.Exchange(copy, responseObject);
        }
    }
}
