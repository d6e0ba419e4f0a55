using System.Buffers.Binary;
using System.Security.Cryptography;

namespace TsmLab.Spdm.Wire;

/// <summary>
/// Checking signed SPDM measurements from what a relay handed over, without the session: the VCA
/// transcript (GET_VERSION, VERSION, GET_CAPABILITIES, CAPABILITIES, NEGOTIATE_ALGORITHMS,
/// ALGORITHMS as exchanged, 1.2+ forms) and one GET_MEASUREMENTS request followed by its
/// MEASUREMENTS response. The signature is DSP0274's over L1 = VCA || request || response without
/// the signature [SP1]. Who calls it: a guest that verifies the device evidence its TSM cached
/// (Arm CCA's realm). Every length is checked; bad input is false, never an exception.
/// </summary>
public static class SpdmMeasurementEvidence
{
    private const int NonceSize = 32;

    /// <summary>The negotiated algorithms from a VCA transcript's ALGORITHMS response; false when the transcript does not parse.</summary>
    public static bool TryReadAlgorithms(ReadOnlySpan<byte> vca, out SpdmAlgorithmSet algorithms)
    {
        algorithms = default;
        int at = 0;
        if (!Skip(vca, ref at, SpdmCode.GetVersion, 4)) return false;
        if (vca.Length < at + 6) return false;
        if (!Skip(vca, ref at, SpdmCode.Version, 6 + 2 * vca[at + 5])) return false;
        if (!Skip(vca, ref at, SpdmCode.GetCapabilities, 20) || !Skip(vca, ref at, SpdmCode.Capabilities, 20)) return false;
        if (vca.Length < at + 6 || !Skip(vca, ref at, SpdmCode.NegotiateAlgorithms, BinaryPrimitives.ReadUInt16LittleEndian(vca[(at + 4)..]))) return false;
        int start = at;
        if (vca.Length < at + 36 || !Skip(vca, ref at, SpdmCode.Algorithms, BinaryPrimitives.ReadUInt16LittleEndian(vca[(at + 4)..]))) return false;
        var a = vca[start..];
        algorithms = new SpdmAlgorithmSet(BinaryPrimitives.ReadUInt32LittleEndian(a[12..]), BinaryPrimitives.ReadUInt32LittleEndian(a[16..]),
            BinaryPrimitives.ReadUInt32LittleEndian(a[8..]), 0, 0, 0);
        return algorithms.HashSize > 0 && algorithms.SignatureSize > 0;
    }

    /// <summary>
    /// True when <paramref name="exchange"/> (a signed GET_MEASUREMENTS carrying <paramref name="nonce"/>, then its
    /// MEASUREMENTS) is signed by <paramref name="key"/> over L1 with the algorithms of <paramref name="vca"/>. An empty
    /// <paramref name="nonce"/> skips the freshness check (the verifier did not choose the nonce).
    /// </summary>
    public static bool Verify(ReadOnlySpan<byte> vca, ReadOnlySpan<byte> exchange, ReadOnlySpan<byte> nonce, ECDsa key)
    {
        if (!TryReadAlgorithms(vca, out var algorithms) || exchange.Length < 4) return false;
        byte version = exchange[0];
        int request = 4 + NonceSize + 1 + (version >= SpdmVersion.V13 ? 8 : 0);
        int s = algorithms.SignatureSize;
        if (exchange[1] != SpdmCode.GetMeasurements || (exchange[2] & 1) == 0 || exchange.Length < request + 8 + s
            || exchange[request] != version || exchange[request + 1] != SpdmCode.Measurements
            || (!nonce.IsEmpty && !exchange.Slice(4, NonceSize).SequenceEqual(nonce)))
            return false;
        var l1 = new byte[vca.Length + exchange.Length - s];
        vca.CopyTo(l1);
        exchange[..^s].CopyTo(l1.AsSpan(vca.Length));
        return SpdmSignature.Verify(key, algorithms, version, SpdmSignature.MeasurementsContext, l1, exchange[^s..]);
    }

    private static bool Skip(ReadOnlySpan<byte> vca, ref int at, byte code, int length)
    {
        if (length < 4 || vca.Length - at < length || vca[at + 1] != code) return false;
        at += length;
        return true;
    }
}
