namespace TsmLab.EmuSocket;

/// <summary>
/// The numbers of DMTF's emulator socket protocol (spdm-emu, docs/interop.md [E5]): the
/// commands of the 12-byte header, the transport types, and the TEST greetings.
/// </summary>
public static class EmuSocketProtocol
{
    /// <summary>The responder emulator's default port for PCI DOE (and MCTP).</summary>
    public const int DefaultPort = 2323;

    /// <summary>NORMAL: the payload is one transport message (one DOE object for PCI DOE).</summary>
    public const uint Normal = 0x0001;
    /// <summary>OOB_ENCAP_KEY_UPDATE: the responder is asked to start an encapsulated KEY_UPDATE.</summary>
    public const uint OobEncapKeyUpdate = 0x8001;
    /// <summary>OOB_ENCAP_ENDPOINT_INFO.</summary>
    public const uint OobEncapEndpointInfo = 0x8002;
    /// <summary>TEST: the greeting ("Client Hello!" answered "Server Hello!").</summary>
    public const uint Test = 0xDEAD;
    /// <summary>CONTINUE: answered, the socket closed, the next connection accepted with the SPDM state kept.</summary>
    public const uint Continue = 0xFFFD;
    /// <summary>SHUTDOWN: answered, then the responder exits.</summary>
    public const uint Shutdown = 0xFFFE;
    /// <summary>The reply to a command the responder does not know.</summary>
    public const uint Unknown = 0xFFFF;

    /// <summary>Transport types of the header's second word.</summary>
    public const uint TransportNone = 0, TransportMctp = 1, TransportPciDoe = 2, TransportTcp = 3;

    /// <summary>The requester's TEST payload, NUL included (14 bytes).</summary>
    public static ReadOnlySpan<byte> ClientHello => "Client Hello!\0"u8;

    /// <summary>The responder's TEST reply, NUL included (14 bytes).</summary>
    public static ReadOnlySpan<byte> ServerHello => "Server Hello!\0"u8;

    /// <summary>The largest NORMAL payload either end accepts: one DOE object of 2^18 DWORDs (1 MiB), the DOE maximum.</summary>
    public const int MaxPayload = 1 << 20;

    /// <summary>
    /// "PORT" or "HOST:PORT" (a name or an IPv4 address of letters, digits, dots and dashes; HOST
    /// defaults to 127.0.0.1), port 1-65535.
    /// </summary>
    public static bool TryParseEndpoint(string text, out string host, out int port)
    {
        int colon = text.LastIndexOf(':');
        host = colon < 0 ? "127.0.0.1" : text[..colon];
        string p = colon < 0 ? text : text[(colon + 1)..];
        return int.TryParse(p, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out port) && port is > 0 and <= 0xFFFF
            && host.Length > 0 && host.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-');
    }

    /// <summary>A command's name for messages and traces.</summary>
    public static string CommandName(uint command) => command switch
    {
        Normal => "NORMAL",
        OobEncapKeyUpdate => "OOB_ENCAP_KEY_UPDATE",
        OobEncapEndpointInfo => "OOB_ENCAP_ENDPOINT_INFO",
        Test => "TEST",
        Continue => "CONTINUE",
        Shutdown => "SHUTDOWN",
        Unknown => "UNKNOWN",
        _ => $"0x{command:x}",
    };

    /// <summary>A transport type's name for messages.</summary>
    public static string TransportName(uint transport) => transport switch
    {
        TransportNone => "NONE",
        TransportMctp => "MCTP",
        TransportPciDoe => "PCI_DOE",
        TransportTcp => "TCP",
        _ => $"0x{transport:x}",
    };
}
