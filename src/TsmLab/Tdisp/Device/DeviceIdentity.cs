using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace TsmLab.Tdisp.Device;

/// <summary>A DMTF measurement block: index, spec 0x01 (DMTF), then type/size/value [SP1].</summary>
/// <remarks>
/// The device's identity for SPDM (used by a later SPDM issue; TDISP itself does not carry it): a
/// root CA and an ECDSA P-384 leaf, both keys derived from the configured seed with HKDF-SHA-384
/// (the scalar is re-derived with a counter until 0 &lt; d &lt; n), fixed serials and validity, and
/// the DMTF measurement blocks (DSP0274) of the configured measurements. Stability: keys, subject
/// names, serials, validity, extensions and measurements are byte-stable for a seed. The default
/// device's chain is the one its vendor issued once (<see cref="IssuedChain"/>), so its bytes and
/// digests are the same on every run; any other identity's chain is signed at first use in a
/// process with the BCL's ECDSA (randomized signatures: the same within a process, not across
/// runs). Keys imported and the chain signed or loaded once per seed and subject in a process.
/// </remarks>
public sealed record MeasurementBlock(byte Index, byte ValueType, byte[] Value)
{
    /// <summary>Type bit 7: the value is a raw bit stream (else a digest).</summary>
    public const byte RawBitStream = 0x80;

    /// <summary>The largest value a block carries: MeasurementSize is a u16 over the 3-byte DMTF header and the value.</summary>
    public const int MaxRawValue = ushort.MaxValue - 3;

    /// <summary>The length of <see cref="Encode"/>'s bytes: the 4-byte block header, the 3-byte DMTF header, the value.</summary>
    public int EncodedSize => 4 + 3 + Value.Length;

    /// <summary>The block's bytes: index u8, spec u8 = 1, size u16, then type u8, value size u16, value.</summary>
    public byte[] Encode()
    {
        var b = new byte[EncodedSize];
        b[0] = Index;
        b[1] = 0x01;
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(2), (ushort)(3 + Value.Length));
        b[4] = ValueType;
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(5), (ushort)Value.Length);
        Value.CopyTo(b, 7);
        return b;
    }
}

/// <summary>The device's keys, certificate chain (ECDSA P-384 leaf) and measurements, derived from its seed.</summary>
public sealed class DeviceIdentity
{
    private static readonly DateTimeOffset NotBefore = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset NotAfter = new(2049, 12, 31, 23, 59, 59, TimeSpan.Zero);
    // The order n of NIST P-384 (FIPS 186-4 D.1.2.4).
    private static ReadOnlySpan<byte> P384Order => Convert.FromHexString(
        "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973");

    /// <summary>
    /// Keys and signed chains by what determines them (seed and leaf subject), shared by every
    /// identity with the same seed in the process: a device model is rebuilt on every host boot,
    /// and importing two P-384 keys, signing and loading the chain again each time cost more than
    /// the rest of a whole assignment flow. Everything in an entry is immutable once built except
    /// the shared leaf <see cref="ECDsa"/>, which is not safe for concurrent use and is reached
    /// only under the entry's lock (<see cref="SignWithLeafKey"/>).
    /// </summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<(string Seed, string Leaf), Lazy<SharedKeys>> Shared = new();

    /// <summary>One seed's keys, imported once, and its chain, signed and loaded once.</summary>
    private sealed class SharedKeys
    {
        /// <summary>Guards <see cref="LeafKey"/> (an OpenSSL-backed ECDsa is not safe for concurrent use).</summary>
        public readonly Lock LeafGate = new();
        public required ECDsa LeafKey { get; init; }
        public required X509Certificate2 Root { get; init; }
        public required X509Certificate2 Leaf { get; init; }
    }

    private readonly Lazy<SharedKeys> shared;
    private readonly Lazy<ECDsa> rootKey, leafKey;

    public DeviceIdentity(DeviceConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        Seed = configuration.Identity.Seed;
        RootSubject = new X500DistinguishedName("CN=TsmLab Device Root CA, O=TsmLab");
        LeafSubject = new X500DistinguishedName($"CN=TsmLab Device {configuration.VendorId:x4}:{configuration.DeviceId:x4}, O=TsmLab");
        var blocks = new List<MeasurementBlock>();
        foreach (var m in configuration.Identity.Measurements)
        {
            if (m.Raw && m.Value.Length > MeasurementBlock.MaxRawValue)
                throw new ArgumentException($"measurement {m.Index}: a raw value holds at most {MeasurementBlock.MaxRawValue} bytes, not {m.Value.Length}", nameof(configuration));
            blocks.Add(m.Raw ? new MeasurementBlock(m.Index, (byte)(m.Type | MeasurementBlock.RawBitStream), m.Value)
                             : new MeasurementBlock(m.Index, m.Type, SHA384.HashData(m.Value)));
        }
        Measurements = blocks;
        shared = new(() => Shared.GetOrAdd((Seed, LeafSubject.Name), _ => new Lazy<SharedKeys>(Build)).Value);
        rootKey = new(() => DeriveKey(Seed, "root"));
        leafKey = new(() => DeriveKey(Seed, "leaf"));
    }

    public string Seed { get; }
    /// <summary>The root CA's P-384 key (deterministic from the seed): this identity's own object, imported on first use.</summary>
    public ECDsa RootKey => rootKey.Value;
    /// <summary>
    /// The device (leaf) P-384 key, the one SPDM CHALLENGE/MEASUREMENTS would sign with: this
    /// identity's own object, imported on first use. Model code signs with
    /// <see cref="SignWithLeafKey"/> instead, which uses the key imported once per seed.
    /// </summary>
    public ECDsa LeafKey => leafKey.Value;
    public X500DistinguishedName RootSubject { get; }
    public X500DistinguishedName LeafSubject { get; }
    public IReadOnlyList<MeasurementBlock> Measurements { get; }
    /// <summary>The root CA certificate (public; shared by every identity with this seed).</summary>
    public X509Certificate2 RootCertificate => shared.Value.Root;
    /// <summary>The leaf certificate (public; shared by every identity with this seed).</summary>
    public X509Certificate2 LeafCertificate => shared.Value.Leaf;

    /// <summary>
    /// ECDSA P-384 over SHA-384 of <paramref name="data"/> with the leaf key, r‖s (96 bytes) into
    /// <paramref name="signature"/>; returns the bytes written. Thread-safe: the key imported once
    /// per seed is used under its lock.
    /// </summary>
    public int SignWithLeafKey(ReadOnlySpan<byte> data, Span<byte> signature)
    {
        var keys = shared.Value;
        lock (keys.LeafGate)
            return keys.LeafKey.SignData(data, signature, HashAlgorithmName.SHA384, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
    }

    /// <summary>The chain, root first, as DER.</summary>
    public IReadOnlyList<byte[]> CertificateChainDer => [RootCertificate.RawData, LeafCertificate.RawData];

    /// <summary>The SPDM certificate chain format [SP1]: length u16, reserved u16, SHA-384 of the root, then the DER certificates.</summary>
    public byte[] SpdmCertificateChain()
    {
        byte[] root = RootCertificate.RawData, leaf = LeafCertificate.RawData;
        var chain = new byte[4 + 48 + root.Length + leaf.Length];
        BinaryPrimitives.WriteUInt16LittleEndian(chain, (ushort)chain.Length);
        SHA384.HashData(root, chain.AsSpan(4));
        root.CopyTo(chain, 52);
        leaf.CopyTo(chain, 52 + root.Length);
        return chain;
    }

    /// <summary>All measurement blocks concatenated, as MEASUREMENTS would carry them.</summary>
    public byte[] MeasurementRecord()
    {
        using var ms = new MemoryStream();
        foreach (var b in Measurements)
            ms.Write(b.Encode());
        return ms.ToArray();
    }

    /// <summary>Derives a P-384 key: d = HKDF-SHA-384(seed, salt "TsmLab device identity", info label|counter) until 0 &lt; d &lt; n.</summary>
    internal static ECDsa DeriveKey(string seed, string label)
    {
        byte[] ikm = Encoding.UTF8.GetBytes(seed);
        byte[] salt = Encoding.UTF8.GetBytes("TsmLab device identity");
        for (int counter = 0; ; counter++)
        {
            byte[] d = HKDF.DeriveKey(HashAlgorithmName.SHA384, ikm, 48, salt, Encoding.UTF8.GetBytes($"{label}/{counter}"));
            if (d.AsSpan().IndexOfAnyExcept((byte)0) < 0 || d.AsSpan().SequenceCompareTo(P384Order) >= 0)
                continue;
            var key = ECDsa.Create();
            key.ImportParameters(new ECParameters { Curve = ECCurve.NamedCurves.nistP384, D = d });
            return key;
        }
    }

    /// <summary>Imports both keys, takes the issued chain or signs one, and loads it: once per seed and subject.</summary>
    private SharedKeys Build()
    {
        using var rootKey = DeriveKey(Seed, "root");
        var leafKey = DeriveKey(Seed, "leaf");
        var (rootDer, leafDer) = IssuedChain.For(LeafSubject, rootKey, leafKey) ?? SignChain(rootKey, leafKey);
        return new SharedKeys { LeafKey = leafKey, Root = X509CertificateLoader.LoadCertificate(rootDer), Leaf = X509CertificateLoader.LoadCertificate(leafDer) };
    }

    private (byte[] Root, byte[] Leaf) SignChain(ECDsa rootKey, ECDsa leafKey)
    {
        var rootReq = new CertificateRequest(RootSubject, rootKey, HashAlgorithmName.SHA384);
        rootReq.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 1, true));
        rootReq.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        rootReq.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(rootReq.PublicKey, false));
        using var root = rootReq.Create(RootSubject, X509SignatureGenerator.CreateForECDsa(rootKey), NotBefore, NotAfter, [0x01]);

        var leafReq = new CertificateRequest(LeafSubject, leafKey, HashAlgorithmName.SHA384);
        leafReq.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        leafReq.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        leafReq.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(leafReq.PublicKey, false));
        using var leaf = leafReq.Create(RootSubject, X509SignatureGenerator.CreateForECDsa(rootKey), NotBefore, NotAfter, [0x02]);
        return (root.RawData, leaf.RawData);
    }
}
