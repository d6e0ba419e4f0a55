using System.Security.Cryptography.X509Certificates;
using TsmLab.Spdm.Wire;
using TsmLab.Tdisp.Device;

namespace TsmLab.Spdm.Requester;

/// <summary>What the requester (the TSM side) offers and trusts.</summary>
/// <remarks>Defaults are TsmLab definitions: everything TsmLab's responder supports, SHA-384 and P-384 preferred by the responder's priority.</remarks>
public sealed record SpdmRequesterSettings
{
    /// <summary>
    /// The root the host provisioned for this device: the certificate chain must verify to it. Null when
    /// someone else decides the chain's trust and hands over the leaf key (Arm CCA: the host verifies the
    /// chain and gives the RMM the key with RMI_PDEV_SET_PUBKEY; see <see cref="SpdmRequester.AcceptResponderKey"/>).
    /// </summary>
    public X509Certificate2? TrustedRoot { get; init; }

    /// <summary>SPDM versions the requester speaks (the highest common one is used).</summary>
    public IReadOnlyList<byte> Versions { get; init; } = [SpdmVersion.V12, SpdmVersion.V13, SpdmVersion.V14];

    /// <summary>GET_CAPABILITIES flags: CERT, CHAL, ENCRYPT, MAC, KEY_EX, HBEAT, KEY_UPD.</summary>
    public SpdmCapabilities Capabilities { get; init; } = SpdmCapabilities.Cert | SpdmCapabilities.Chal | SpdmCapabilities.Encrypt
        | SpdmCapabilities.Mac | SpdmCapabilities.KeyEx | SpdmCapabilities.Hbeat | SpdmCapabilities.KeyUpd;

    public int DataTransferSize { get; init; } = 4608;

    /// <summary>
    /// The largest SPDM message the requester reassembles (its MaxSPDMmsgSize with CHUNK_CAP: a response
    /// above DataTransferSize arrives by CHUNK_GET). Up to 64 KiB is allocated with the requester; a
    /// larger buffer only when such a response arrives.
    /// </summary>
    public int MaxMessageSize { get; init; } = 1 << 16;
    public uint BaseAsym { get; init; } = SpdmAlgorithmBits.AsymEcdsaP256 | SpdmAlgorithmBits.AsymEcdsaP384;
    public uint BaseHash { get; init; } = SpdmAlgorithmBits.HashSha256 | SpdmAlgorithmBits.HashSha384;
    public ushort Dhe { get; init; } = SpdmAlgorithmBits.DheSecp256r1 | SpdmAlgorithmBits.DheSecp384r1;
    public ushort Aead { get; init; } = SpdmAlgorithmBits.AeadAes128Gcm | SpdmAlgorithmBits.AeadAes256Gcm | SpdmAlgorithmBits.AeadChaCha20Poly1305;

    /// <summary>DSP0277 versions listed in KEY_EXCHANGE's opaque data.</summary>
    public IReadOnlyList<ushort> SecuredVersions { get; init; } = [SpdmOpaqueData.SecuredVersion12, SpdmOpaqueData.SecuredVersion11];

    /// <summary>When certificates must be valid (default: now).</summary>
    public DateTimeOffset? VerificationTime { get; init; }

    /// <summary>Where nonces and RandomData come from (ECDHE keys always come from the OS CSPRNG).</summary>
    public ITdispEntropySource Entropy { get; init; } = SystemEntropySource.Instance;
}
