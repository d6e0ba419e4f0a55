using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using BenchmarkDotNet.Attributes;
using TsmLab.Spdm.Requester;
using TsmLab.Spdm.Responder;
using TsmLab.Spdm.Session;
using TsmLab.Spdm.Wire;
using TsmLab.Tdisp.Device;
using TsmLab.Tdisp.Wire;

namespace TsmLab.Bench;

/// <summary>
/// SPDM sessions between TsmLab's requester and responder over an in-process DOE mailbox:
/// KEY_EXCHANGE + FINISH (+ END_SESSION, so sessions do not pile up) per algorithm set, and a
/// secured TDISP GET_DEVICE_INTERFACE_STATE round trip (seal, DOE, open, dispatch, device, seal,
/// open). Anchor: one AEAD seal + the peer's open of the same size (a round trip needs two). Targets: round trip ≤ 2 µs, 0 B.
/// </summary>
[MemoryDiagnoser]
public class SpdmSessionBench
{
    /// <summary>Asymmetric key / hash / DHE / AEAD.</summary>
    [Params("P384-SHA384-secp384r1-AES256GCM", "P256-SHA256-secp256r1-AES128GCM", "P384-SHA256-secp256r1-ChaCha20")]
    public string Suite { get; set; } = "";

    private SpdmRequester requester = null!;
    private SpdmSession session = null!;
    private readonly byte[] getState = new byte[1 + HeaderOnlyMessage.Size];
    private readonly byte[] stateResponse = new byte[256];
    private SpdmAead anchor = null!;
    private SpdmAead anchorPeer = null!;
    private readonly byte[] anchorPlain = new byte[40];
    private readonly byte[] anchorCipher = new byte[40];
    private readonly byte[] anchorTag = new byte[16];
    private readonly byte[] anchorAad = new byte[6];

    [GlobalSetup]
    public void Setup()
    {
        bool p256 = Suite.StartsWith("P256", StringComparison.Ordinal);
        uint hash = Suite.Contains("SHA256", StringComparison.Ordinal) ? SpdmAlgorithmBits.HashSha256 : SpdmAlgorithmBits.HashSha384;
        ushort dhe = Suite.Contains("secp256r1", StringComparison.Ordinal) ? SpdmAlgorithmBits.DheSecp256r1 : SpdmAlgorithmBits.DheSecp384r1;
        ushort aead = Suite.EndsWith("ChaCha20", StringComparison.Ordinal) ? SpdmAlgorithmBits.AeadChaCha20Poly1305
            : Suite.EndsWith("AES128GCM", StringComparison.Ordinal) ? SpdmAlgorithmBits.AeadAes128Gcm : SpdmAlgorithmBits.AeadAes256Gcm;
        var dsm = DeviceSecurityManager.CreateDefault();
        var deviceIdentity = SpdmResponderIdentity.FromDevice(dsm.Identity, dsm.Configuration);
        SpdmResponderIdentity identity;
        X509Certificate2 root;
        if (p256)
        {
            var rootKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var leafKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var rootReq = new CertificateRequest("CN=Bench Root", rootKey, HashAlgorithmName.SHA256);
            rootReq.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
            var rootCert = rootReq.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
            var leafCert = new CertificateRequest("CN=Bench Device", leafKey, HashAlgorithmName.SHA256)
                .Create(rootCert, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1), [7]);
            identity = new SpdmResponderIdentity([rootCert.RawData, leafCert.RawData], leafKey, deviceIdentity.Measurements);
            root = rootCert;
        }
        else
        {
            identity = deviceIdentity;
            root = dsm.Identity.RootCertificate;
        }
        var mailbox = new DoeMailbox(new SpdmResponder(() => identity, dsm));
        requester = new SpdmRequester(new MailboxChannel(mailbox),
            new SpdmRequesterSettings { TrustedRoot = root, BaseHash = hash, Dhe = dhe, Aead = aead });
        Check(requester.InitConnectionAsync());
        Check(requester.GetCertificateAsync());
        var (r, s) = requester.KeyExchangeAsync().AsTask().Result;
        if (!r.Ok) throw new InvalidOperationException(r.ToString());
        Check(requester.FinishAsync(s!));
        session = s!;
        getState[0] = (byte)VdmProtocolId.Tdisp;
        HeaderOnlyMessage.WriteGetDeviceInterfaceState(getState.AsSpan(1), TdiFunctionId.FromRid(0x0101));
        int keySize = aead == SpdmAlgorithmBits.AeadAes128Gcm ? 16 : 32;
        anchor = new SpdmAead(aead, new byte[keySize], new byte[12]);
        anchorPeer = new SpdmAead(aead, new byte[keySize], new byte[12]);
    }

    private static void Check(ValueTask<SpdmRequesterResult> t)
    {
        var r = t.AsTask().Result;
        if (!r.Ok) throw new InvalidOperationException(r.ToString());
    }

    [Benchmark(Description = "KEY_EXCHANGE+FINISH+END_SESSION")]
    public bool Establish()
    {
        var (r, s) = requester.KeyExchangeAsync().AsTask().Result;
        bool ok = r.Ok && requester.FinishAsync(s!).AsTask().Result.Ok;
        requester.EndSessionAsync(s!).AsTask().Wait();
        return ok;
    }

    [Benchmark(Description = "secured TDISP GET_STATE round trip")]
    public int SecuredGetState()
    {
        var t = requester.VendorDefinedAsync(session, getState, stateResponse);
        return t.IsCompletedSuccessfully ? t.Result.Length : -1;
    }

    [Benchmark(Baseline = true, Description = "anchor: AEAD seal+open of 40 bytes")]
    public bool AeadAnchor()
    {
        // One direction's seal and the peer's open (same key and IV, both counters advance together):
        // a secured round trip does this twice, once per direction.
        anchor.Seal(anchorAad, anchorPlain, anchorCipher, anchorTag);
        return anchorPeer.TryOpen(anchorAad, anchorCipher, anchorTag, anchorPlain);
    }
}
