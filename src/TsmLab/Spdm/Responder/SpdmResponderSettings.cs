using TsmLab.Spdm.Wire;
using TsmLab.Tdisp.Device;

namespace TsmLab.Spdm.Responder;

/// <summary>What a responder offers: versions, capabilities, algorithms, sizes and its policies.</summary>
/// <remarks>Defaults are TsmLab definitions chosen to interoperate with DMTF's requester emulator (shared/spec/spdm.md).</remarks>
public sealed record SpdmResponderSettings
{
    /// <summary>SPDM versions listed in VERSION (1.2, 1.3, 1.4).</summary>
    public IReadOnlyList<byte> Versions { get; init; } = [SpdmVersion.V12, SpdmVersion.V13, SpdmVersion.V14];

    /// <summary>CAPABILITIES flags: CERT, CHAL, MEAS (signed), ENCRYPT, MAC, KEY_EX, HBEAT, KEY_UPD.</summary>
    public SpdmCapabilities Capabilities { get; init; } = SpdmCapabilities.Cert | SpdmCapabilities.Chal | SpdmCapabilities.MeasSig
        | SpdmCapabilities.Encrypt | SpdmCapabilities.Mac | SpdmCapabilities.KeyEx | SpdmCapabilities.Hbeat | SpdmCapabilities.KeyUpd;

    /// <summary>DataTransferSize and MaxSPDMmsgSize (no chunking, so equal).</summary>
    public int DataTransferSize { get; init; } = 4608;

    /// <summary>BaseHashAlgo bits offered (SHA-256, SHA-384).</summary>
    public uint BaseHash { get; init; } = SpdmAlgorithmBits.HashSha256 | SpdmAlgorithmBits.HashSha384;
    public ushort Dhe { get; init; } = SpdmAlgorithmBits.DheSecp256r1 | SpdmAlgorithmBits.DheSecp384r1;
    public ushort Aead { get; init; } = SpdmAlgorithmBits.AeadAes128Gcm | SpdmAlgorithmBits.AeadAes256Gcm | SpdmAlgorithmBits.AeadChaCha20Poly1305;

    /// <summary>DSP0277 versions the responder can select (1.1, 1.2).</summary>
    public IReadOnlyList<ushort> SecuredVersions { get; init; } = [SpdmOpaqueData.SecuredVersion12, SpdmOpaqueData.SecuredVersion11];

    /// <summary>
    /// KEY_EXCHANGE_RSP's HeartbeatPeriod in seconds when both ends have HBEAT_CAP (0xF0, what DMTF's
    /// responder emulator uses; its requester sends HEARTBEAT only for a non-zero period). The model has
    /// no clock: a missed heartbeat never ends a session (TsmLab definition).
    /// </summary>
    public byte HeartbeatPeriod { get; init; } = 0xF0;

    /// <summary>The pre-shared key PSK_EXCHANGE uses (null: PSK sessions unsupported). Set PSK_CAP (with context) in <see cref="Capabilities"/> too.</summary>
    public byte[]? Psk { get; init; }

    /// <summary>The PSK hint the requester must name (empty: none), at most 16 bytes as libspdm allows.</summary>
    public byte[] PskHint { get; init; } = [];

    /// <summary>Concurrent sessions before KEY_EXCHANGE answers SessionLimitExceeded (TsmLab definition).</summary>
    public int MaxSessions { get; init; } = 4;

    /// <summary>Where nonces and RandomData come from (default: the OS CSPRNG; ECDHE keys always come from it).</summary>
    public ITdispEntropySource Entropy { get; init; } = SystemEntropySource.Instance;
}
