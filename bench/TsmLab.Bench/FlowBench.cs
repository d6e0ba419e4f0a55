using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using BenchmarkDotNet.Attributes;
using TsmLab.Spdm.Wire;
using TsmLab.Tdisp.Device;
using TsmLab.Platforms.Cca;
using TsmLab.Platforms.SevTio;
using TsmLab.Platforms.SevTio.Abi;
using TsmLab.Platforms.SevTio.Firmware;
using TsmLab.Platforms.SevTio.HostDriver;
using TsmLab.Platforms.SevTio.Vmm;
using TsmLab.Platforms.SevTio.Kvm;
using TsmLab.Platforms.SevTio.Guest;
using TsmLab.Platforms.Tdx;

namespace TsmLab.Bench;

/// <summary>
/// Benchmark 4: the demo's work per platform, without output. One operation boots a fresh
/// built-in host (new device model, firmware, kernel), runs the VMM's assignment sequence up to
/// TSM_INFO, then the guest's lock (bind through the VMM, evidence fetched and checked), accept
/// (every TEE MMIO range validated, RUN) with DMA enabled, and unlock.
/// </summary>
[MemoryDiagnoser]
public class FlowBench
{
    [GlobalSetup]
    public void Setup()
    {
        if (!Cca()) throw new InvalidOperationException("CCA flow failed");
        if (!Sev()) throw new InvalidOperationException("SEV-TIO flow failed");
        if (!Tdx()) throw new InvalidOperationException("TDX flow failed");
        var identity = new DeviceIdentity(DeviceConfiguration.Default);
        leafDer = identity.LeafCertificate.RawData;
        chain = identity.SpdmCertificateChain();
        signed = new byte[36 + identity.MeasurementRecord().Length];
        leafPublic = identity.LeafCertificate.GetECDsaPublicKey()!;
        root = identity.RootCertificate;
        signer = identity;
        aead = new AesGcm(new byte[32], 16);
    }

    private byte[] leafDer = [], chain = [], signed = [];
    private readonly byte[] signature = new byte[96], page = new byte[4096], plain = new byte[4096], tag = new byte[16], iv = new byte[12];
    private ECDsa leafPublic = null!;
    private X509Certificate2 root = null!;
    private DeviceIdentity signer = null!;
    private AesGcm aead = null!;

    /// <summary>
    /// The CCA flow's floor, the asymmetric crypto it must do: the SPDM handshake
    /// (<see cref="FloorSpdmHandshake"/>: the host verifies the chain to the provisioned root, the
    /// device signs the connect-time MEASUREMENTS and KEY_EXCHANGE_RSP and the RMM verifies both, two
    /// ECDHE), the signed MEASUREMENTS the lock fetches for the realm (one sign, the RMM's verify), and
    /// the realm's own check of that signature with the leaf key it loads from the cached chain.
    /// </summary>
    [Benchmark(Description = "floor: CCA crypto (SPDM handshake + 1 sign/verify + 1 verify + 1 leaf load)")]
    public bool FloorCca()
    {
        bool ok = FloorSpdmHandshake() && SignAndVerify();
        using var leaf = X509CertificateLoader.LoadCertificate(leafDer);
        using var key = leaf.GetECDsaPublicKey()!;
        return ok && key.VerifyData(signed, signature, HashAlgorithmName.SHA384, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
    }

    /// <summary>
    /// The TDX flow's floor: the SPDM handshake (<see cref="FloorSpdmHandshake"/>: one signed
    /// MEASUREMENTS at connect, KEY_EXCHANGE, the host's chain check before any IDE key), then the TD's
    /// own evidence check: the chain's leaf signature under the root and the measurement signature
    /// (two verifies, two certificate loads).
    /// </summary>
    [Benchmark(Description = "floor: TDX crypto (SPDM handshake + 2 verifies + 2 certificate loads)")]
    public bool FloorTdx()
    {
        bool ok = FloorSpdmHandshake(); // leaves a valid device signature over `signed` to verify again
        using var rootCert = X509CertificateLoader.LoadCertificate(root.RawData);
        using var leaf = X509CertificateLoader.LoadCertificate(leafDer);
        using var key = leaf.GetECDsaPublicKey()!;
        // Two P-384 verifies: the leaf certificate's signature (same cost class) and the measurements'.
        return ok && leafPublic.VerifyData(signed, signature, HashAlgorithmName.SHA384, DSASignatureFormat.IeeeP1363FixedFieldConcatenation)
            && key.VerifyData(signed, signature, HashAlgorithmName.SHA384, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
    }

    /// <summary>
    /// The SPDM handshake's floor, both ends together as TsmLab's requester and responder do it with
    /// the default identity (ECDSA P-384, SHA-384, secp384r1): the requester verifies the certificate
    /// chain to the provisioned root (the engine's own <c>VerifyAndGetLeafKey</c>: DER loads and
    /// X509Chain), the responder signs MEASUREMENTS and KEY_EXCHANGE_RSP and the requester verifies
    /// both, and each side makes an ephemeral ECDHE key, exports its point, imports the peer's
    /// (OpenSSL validates it) and derives the shared secret. Everything else the handshake does
    /// (transcripts, HMAC, HKDF) is hashing, left out.
    /// </summary>
    [Benchmark(Description = "floor: SPDM handshake (chain + 2 P-384 sign/verify + 2 ECDHE)")]
    public bool FloorSpdmHandshake()
    {
        using var key = SpdmCertChainFormat.VerifyAndGetLeafKey(chain, P384, root, DateTimeOffset.UtcNow, out _);
        bool ok = key is not null && SignAndVerify() && SignAndVerify();
        using var requester = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP384);
        using var responder = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP384);
        var rq = requester.ExportParameters(false).Q;
        var rs = responder.ExportParameters(false).Q;
        using var rqSeen = ECDiffieHellman.Create(new ECParameters { Curve = ECCurve.NamedCurves.nistP384, Q = rq });
        using var rsSeen = ECDiffieHellman.Create(new ECParameters { Curve = ECCurve.NamedCurves.nistP384, Q = rs });
        return ok && responder.DeriveRawSecretAgreement(rqSeen.PublicKey).AsSpan().SequenceEqual(requester.DeriveRawSecretAgreement(rsSeen.PublicKey));
    }

    private static readonly SpdmAlgorithmSet P384 = new(SpdmAlgorithmBits.AsymEcdsaP384, SpdmAlgorithmBits.HashSha384, SpdmAlgorithmBits.MeasurementHashSha384,
        SpdmAlgorithmBits.DheSecp384r1, SpdmAlgorithmBits.AeadAes256Gcm, SpdmAlgorithmBits.KeyScheduleSpdm);

    private bool SignAndVerify()
    {
        signer.SignWithLeafKey(signed, signature);
        return leafPublic.VerifyData(signed, signature, HashAlgorithmName.SHA384, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
    }

    /// <summary>
    /// The SEV flow's floor: the SPDM handshake at connect (<see cref="FloorSpdmHandshake"/>), the
    /// signed measurement refresh the guest's TDI_INFO(MEAS) asks for (one sign, one verify), its 9
    /// guest messages each sealed and opened in both directions (36 AES-256-GCM operations, 64-byte
    /// payloads), and the certificate chain, measurements and report digests (8 SHA-384 over the
    /// chain's size). The TDISP/IDE_KM messages' AEAD inside the SPDM session is left out (tens of µs).
    /// </summary>
    [Benchmark(Description = "floor: SEV crypto (SPDM handshake + 1 sign/verify + 36 AES-GCM + 8 SHA-384)")]
    public bool FloorSev()
    {
        bool ok = FloorSpdmHandshake() && SignAndVerify();
        var p = page.AsSpan(0, 64);
        for (int i = 0; i < 18; i++)
        {
            aead.Encrypt(iv, plain.AsSpan(0, 64), p, tag);
            aead.Decrypt(iv, p, tag, plain.AsSpan(0, 64));
        }
        Span<byte> digest = stackalloc byte[48];
        for (int i = 0; i < 8; i++) SHA384.HashData(chain, digest);
        return ok;
    }

    /// <summary>CCA: realm VM, lock (TSM_OP BIND, report, measurements, 4 objects read, RSI_VDEV_GET_INFO, digests), accept (RSI_VDEV_VALIDATE_MAPPING per TEE range → RTT_DEV_MAP per 4 KiB page, RUN, RSI_VDEV_DMA_ENABLE), unlock (DMA_DISABLE, UNBIND).</summary>
    [Benchmark(Baseline = true, Description = "CCA boot+assign+lock+accept+DMA+unlock")]
    public bool Cca()
    {
        var s = CcaRealmSession.Start();
        return s.Guest.Lock() && s.Guest.Accept() && s.Guest.DmaEnabled && s.Guest.Unlock();
    }

    /// <summary>SEV-TIO: SNP VM, lock (OP_BIND, TDI_INFO with certs, measurements, report), accept (MMIO_VALIDATE per range, OP_RUN), SDTE_WRITE (DMA), unlock.</summary>
    [Benchmark(Description = "SEV boot+assign+lock+accept+DMA+unlock")]
    public bool Sev()
    {
        var s = SevTioSession.Start();
        return s.Prepared && s.Guest.Lock().IsOk && s.Guest.Accept().IsOk && s.Guest.EnableDma().IsOk && s.Guest.Unlock().IsOk;
    }

    /// <summary>TDX: TD VM, lock (TDISP LOCK through the TDX module, report and measurements over TDVMCALL, digest and signature checks), accept (private MMIO accepted per page, RUN), DMA enable, unlock.</summary>
    [Benchmark(Description = "TDX boot+assign+lock+accept+DMA+unlock")]
    public bool Tdx()
    {
        var s = TdxSession.Start();
        return s.Guest.Lock().Ok && s.Guest.Accept().Ok && s.Guest.EnableDma().Ok && s.Guest.Unlock().Ok;
    }
}
