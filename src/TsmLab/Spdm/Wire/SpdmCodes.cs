namespace TsmLab.Spdm.Wire;

/// <summary>SPDM request and response codes (DSP0274 "SPDM request and response code") [SP1,D3].</summary>
/// <remarks>Values read from libspdm's <c>spdm.h</c> [D3], which follows DSP0274 [SP1].</remarks>
public static class SpdmCode
{
    // Responses
    public const byte Digests = 0x01;
    public const byte Certificate = 0x02;
    public const byte ChallengeAuth = 0x03;
    public const byte ChunkResponse = 0x06;
    public const byte Version = 0x04;
    public const byte Measurements = 0x60;
    public const byte Capabilities = 0x61;
    public const byte Algorithms = 0x63;
    public const byte KeyExchangeRsp = 0x64;
    public const byte FinishRsp = 0x65;
    public const byte PskExchangeRsp = 0x66;
    public const byte PskFinishRsp = 0x67;
    public const byte HeartbeatAck = 0x68;
    public const byte KeyUpdateAck = 0x69;
    public const byte EndSessionAck = 0x6C;
    public const byte VendorDefinedResponse = 0x7E;
    public const byte Error = 0x7F;

    // Requests
    public const byte GetDigests = 0x81;
    public const byte GetCertificate = 0x82;
    public const byte Challenge = 0x83;
    public const byte GetVersion = 0x84;
    public const byte ChunkSend = 0x85;
    public const byte ChunkGet = 0x86;
    public const byte GetMeasurements = 0xE0;
    public const byte GetCapabilities = 0xE1;
    public const byte NegotiateAlgorithms = 0xE3;
    public const byte KeyExchange = 0xE4;
    public const byte Finish = 0xE5;
    public const byte PskExchange = 0xE6;
    public const byte PskFinish = 0xE7;
    public const byte Heartbeat = 0xE8;
    public const byte KeyUpdate = 0xE9;
    public const byte GetEncapsulatedRequest = 0xEA;
    public const byte EndSession = 0xEC;
    public const byte VendorDefinedRequest = 0xFE;
    public const byte RespondIfReady = 0xFF;

    /// <summary>DSP0274's name of a code TsmLab models, or its hex value.</summary>
    public static string Name(byte code) => code switch
    {
        Digests => "DIGESTS", Certificate => "CERTIFICATE", ChallengeAuth => "CHALLENGE_AUTH", Version => "VERSION",
        ChunkResponse => "CHUNK_RESPONSE", Measurements => "MEASUREMENTS", Capabilities => "CAPABILITIES", Algorithms => "ALGORITHMS",
        KeyExchangeRsp => "KEY_EXCHANGE_RSP", FinishRsp => "FINISH_RSP", PskExchangeRsp => "PSK_EXCHANGE_RSP", PskFinishRsp => "PSK_FINISH_RSP",
        HeartbeatAck => "HEARTBEAT_ACK", KeyUpdateAck => "KEY_UPDATE_ACK", EndSessionAck => "END_SESSION_ACK",
        VendorDefinedResponse => "VENDOR_DEFINED_RESPONSE", Error => "ERROR",
        GetDigests => "GET_DIGESTS", GetCertificate => "GET_CERTIFICATE", Challenge => "CHALLENGE", GetVersion => "GET_VERSION",
        ChunkGet => "CHUNK_GET", GetMeasurements => "GET_MEASUREMENTS", GetCapabilities => "GET_CAPABILITIES",
        NegotiateAlgorithms => "NEGOTIATE_ALGORITHMS", KeyExchange => "KEY_EXCHANGE", Finish => "FINISH", PskExchange => "PSK_EXCHANGE",
        PskFinish => "PSK_FINISH", Heartbeat => "HEARTBEAT", KeyUpdate => "KEY_UPDATE", EndSession => "END_SESSION",
        VendorDefinedRequest => "VENDOR_DEFINED_REQUEST",
        _ => $"0x{code:x2}",
    };

    /// <summary>True for a request code (bit 7 set): DSP0274 splits the code space so.</summary>
    public static bool IsRequest(byte code) => (code & 0x80) != 0;
}

/// <summary>SPDM ERROR codes (param1 of ERROR, DSP0274 "ERROR response") [SP1,D3].</summary>
public enum SpdmErrorCode : byte
{
    InvalidRequest = 0x01,
    Busy = 0x03,
    UnexpectedRequest = 0x04,
    Unspecified = 0x05,
    DecryptError = 0x06,
    UnsupportedRequest = 0x07,
    RequestInFlight = 0x08,
    InvalidResponseCode = 0x09,
    SessionLimitExceeded = 0x0A,
    SessionRequired = 0x0B,
    ResetRequired = 0x0C,
    ResponseTooLarge = 0x0D,
    RequestTooLarge = 0x0E,
    LargeResponse = 0x0F,
    MessageLost = 0x10,
    VersionMismatch = 0x41,
    ResponseNotReady = 0x42,
    RequestResynch = 0x43,
}

/// <summary>SPDM versions as the one-byte SPDMVersion field carries them (major in the high nibble) [SP1].</summary>
public static class SpdmVersion
{
    public const byte V10 = 0x10;
    public const byte V11 = 0x11;
    public const byte V12 = 0x12;
    public const byte V13 = 0x13;
    public const byte V14 = 0x14;

    /// <summary>The 16-bit version number entry of VERSION (major 15:12, minor 11:8, update 7:4, alpha 3:0).</summary>
    public static ushort ToEntry(byte version) => (ushort)(version << 8);

    /// <summary>The "1.x" digit pair used by the signing prefix and the key schedule's bin_str.</summary>
    public static char Major(byte version) => (char)('0' + (version >> 4));

    /// <summary>The minor digit.</summary>
    public static char Minor(byte version) => (char)('0' + (version & 0xF));
}

/// <summary>CAPABILITIES flags (DSP0274 "CAPABILITIES response flag fields") [SP1,D3].</summary>
[Flags]
public enum SpdmCapabilities : uint
{
    None = 0,
    Cache = 1u << 0,
    Cert = 1u << 1,
    Chal = 1u << 2,
    MeasNoSig = 1u << 3,
    MeasSig = 1u << 4,
    MeasFresh = 1u << 5,
    Encrypt = 1u << 6,
    Mac = 1u << 7,
    MutAuth = 1u << 8,
    KeyEx = 1u << 9,
    PskNoContext = 1u << 10,
    PskWithContext = 1u << 11,
    Encap = 1u << 12,
    Hbeat = 1u << 13,
    KeyUpd = 1u << 14,
    HandshakeInTheClear = 1u << 15,
    PubKeyId = 1u << 16,
    Chunk = 1u << 17,
    LargeResp = 1u << 31,
}

/// <summary>Algorithm bit values of NEGOTIATE_ALGORITHMS / ALGORITHMS [SP1,D3].</summary>
public static class SpdmAlgorithmBits
{
    public const uint AsymEcdsaP256 = 0x10;
    public const uint AsymEcdsaP384 = 0x80;
    public const uint HashSha256 = 0x01;
    public const uint HashSha384 = 0x02;
    /// <summary>MeasurementHashAlgo uses its own numbering: bit 0 raw-only, bit 1 SHA-256, bit 2 SHA-384.</summary>
    public const uint MeasurementHashSha256 = 0x02;
    public const uint MeasurementHashSha384 = 0x04;
    public const ushort DheSecp256r1 = 0x08;
    public const ushort DheSecp384r1 = 0x10;
    public const ushort AeadAes128Gcm = 0x01;
    public const ushort AeadAes256Gcm = 0x02;
    public const ushort AeadChaCha20Poly1305 = 0x04;
    public const ushort KeyScheduleSpdm = 0x01;
    public const byte MeasurementSpecDmtf = 0x01;
    /// <summary>OtherParams bits 3:0: OpaqueDataFmt1 (the general opaque data table).</summary>
    public const byte OpaqueDataFormat1 = 0x02;
    public const byte OpaqueDataFormatMask = 0x0F;

    public const byte AlgTypeDhe = 2;
    public const byte AlgTypeAead = 3;
    public const byte AlgTypeReqBaseAsym = 4;
    public const byte AlgTypeKeySchedule = 5;
    /// <summary>SPDM 1.4: requester PQC asymmetric algorithm.</summary>
    public const byte AlgTypeReqPqcAsym = 6;
    /// <summary>SPDM 1.4: key encapsulation mechanism.</summary>
    public const byte AlgTypeKem = 7;
}
