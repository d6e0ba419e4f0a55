using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using TsmLab.Platforms.Cca.Abi;
using TsmLab.Tdisp.Wire;
using TsmLab.Tdisp.Requester;

namespace TsmLab.Platforms.Cca.Guest;

/// <summary>
/// The evidence a realm guest fetched from the (untrusted) host and the RMM's
/// <c>rsi_vdevice_info</c> it checks it against: every object's digest, the leaf key's digest,
/// the measurement transcript's nonce and signature, and a report that parses.
/// </summary>
public sealed class DeviceEvidence
{
    public required byte[] Certificate { get; init; }
    public required byte[] Vca { get; init; }
    public required byte[] Report { get; init; }
    public required byte[] Measurements { get; init; }
    /// <summary>The 0x200-byte rsi_vdevice_info.</summary>
    public required byte[] Info { get; init; }

    public ulong LockNonce => BinaryPrimitives.ReadUInt64LittleEndian(Info.AsSpan(Rsi.InfoLockNonce));
    public ulong MeasNonce => BinaryPrimitives.ReadUInt64LittleEndian(Info.AsSpan(Rsi.InfoMeasNonce));
    public ulong ReportNonce => BinaryPrimitives.ReadUInt64LittleEndian(Info.AsSpan(Rsi.InfoReportNonce));

    /// <summary>The decoded report, once <see cref="Check"/> succeeded.</summary>
    public DeviceInterfaceReport? ParsedReport { get; private set; }

    /// <summary>Null when everything matches, else what did not.</summary>
    public string? Check(ReadOnlySpan<byte> measurementNonce)
    {
        byte algo = Info[Rsi.InfoHashAlgo];
        if (algo > Rsi.HashSha384) return "unknown hash algorithm";
        if (Info[Rsi.InfoFormatType] != Rsi.FormatTdisp) return "interface report is not in the TDISP format";
        if ((RsiVdevState)Info[Rsi.InfoState] is not (RsiVdevState.Locked or RsiVdevState.Started)) return "device is not locked";
        if (!DigestMatches(algo, Vca, Rsi.InfoVcaDigest)) return "VCA digest mismatch";
        if (!DigestMatches(algo, Certificate, Rsi.InfoCertDigest)) return "certificate digest mismatch";
        if (!DigestMatches(algo, Report, Rsi.InfoReportDigest)) return "interface report digest mismatch";
        if (!DigestMatches(algo, Measurements, Rsi.InfoMeasDigest)) return "measurement digest mismatch";
        using var leaf = LeafOf(Certificate);
        if (leaf is null) return "certificate chain does not parse";
        if (!DevicePublicKey.TryEncode(leaf, out var key, out _) || !DigestMatches(algo, key, Rsi.InfoPubkeyDigest)) return "public key digest mismatch";
        if (!MeasurementsSigned(leaf, measurementNonce)) return "measurements not fresh or not signed by the device";
        ParsedReport = DeviceInterfaceReport.Parse(Report);
        return ParsedReport is null ? "interface report does not parse" : null;
    }

    private bool DigestMatches(byte algo, ReadOnlySpan<byte> data, int offset)
    {
        Span<byte> d = stackalloc byte[Rsi.DigestSize];
        d.Clear();
        HashAlgorithms.Digest(algo, data, d);
        return CryptographicOperations.FixedTimeEquals(d, Info.AsSpan(offset, Rsi.DigestSize));
    }

    /// <summary>
    /// The MEASUREMENTS object is the signed GET_MEASUREMENTS request (with the realm's nonce) and the
    /// device's MEASUREMENTS response as the RMM exchanged them; the signature is DSP0274's over
    /// VCA || request || response (the VCA object), by the certificate's leaf key [SP1].
    /// </summary>
    private bool MeasurementsSigned(X509Certificate2 leaf, ReadOnlySpan<byte> nonce)
    {
        using var key = leaf.GetECDsaPublicKey();
        return key is not null && Spdm.Wire.SpdmMeasurementEvidence.Verify(Vca, Measurements, nonce, key);
    }

    /// <summary>The last certificate of an SPDM chain (length u16, reserved u16, root hash[48], DER certificates).</summary>

    private static X509Certificate2? LeafOf(byte[] chain) => SpdmCertificateChain.Leaf(chain);
}
