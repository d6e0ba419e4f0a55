using System.Security.Cryptography;
using System.Text;

namespace TsmLab.Spdm.Wire;

/// <summary>SPDM 1.2+ signatures: the combined_spdm_prefix and ECDSA over it [SP1,D3].</summary>
/// <remarks>
/// DSP0274 1.2+ "Signature generation" [SP1]: the signed message is combined_spdm_prefix ||
/// Hash(transcript), where combined_spdm_prefix is "dmtf-spdm-v1.x.*" four times (64 bytes), then
/// zero padding and the context string so that the context area is 36 bytes (100 in all). The
/// signature algorithm hashes that message again with the negotiated hash (as libspdm's
/// asym_sign does [SP5]); ECDSA signatures are r||s, each the curve size.
/// </remarks>
public static class SpdmSignature
{
    public const int PrefixSize = 64;
    public const int CombinedPrefixSize = 100;

    public const string ChallengeAuthContext = "responder-challenge_auth signing";
    public const string MeasurementsContext = "responder-measurements signing";
    public const string KeyExchangeRspContext = "responder-key_exchange_rsp signing";
    public const string FinishContext = "requester-finish signing";

    /// <summary>Writes the 100-byte combined prefix for <paramref name="version"/> and <paramref name="context"/>.</summary>
    public static void WriteCombinedPrefix(Span<byte> destination, byte version, string context)
    {
        for (int i = 0; i < 4; i++)
        {
            Encoding.ASCII.GetBytes("dmtf-spdm-v", destination[(i * 16)..]);
            destination[i * 16 + 11] = (byte)SpdmVersion.Major(version);
            destination[i * 16 + 12] = (byte)'.';
            destination[i * 16 + 13] = (byte)SpdmVersion.Minor(version);
            destination[i * 16 + 14] = (byte)'.';
            destination[i * 16 + 15] = (byte)'*';
        }
        int pad = 36 - context.Length;
        destination.Slice(PrefixSize, pad).Clear();
        Encoding.ASCII.GetBytes(context, destination[(PrefixSize + pad)..CombinedPrefixSize]);
    }

    /// <summary>The message ECDSA signs: combined prefix || <paramref name="transcriptHash"/>.</summary>
    public static byte[] SignedMessage(byte version, string context, ReadOnlySpan<byte> transcriptHash)
    {
        var m = new byte[CombinedPrefixSize + transcriptHash.Length];
        WriteCombinedPrefix(m, version, context);
        transcriptHash.CopyTo(m.AsSpan(CombinedPrefixSize));
        return m;
    }

    /// <summary>Signs Hash(<paramref name="transcript"/>) under the prefix; writes S bytes.</summary>
    public static void Sign(ECDsa key, SpdmAlgorithmSet algorithms, byte version, string context, ReadOnlySpan<byte> transcript, Span<byte> signature)
    {
        var m = SignedMessage(version, context, algorithms.Hash(transcript));
        if (!key.TrySignData(m, signature, algorithms.HashName, DSASignatureFormat.IeeeP1363FixedFieldConcatenation, out int n) || n != algorithms.SignatureSize)
            throw new CryptographicException("the signature does not have the negotiated size");
    }

    /// <summary>Verifies a signature over Hash(<paramref name="transcript"/>) under the prefix; false on any failure.</summary>
    public static bool Verify(ECDsa key, SpdmAlgorithmSet algorithms, byte version, string context, ReadOnlySpan<byte> transcript, ReadOnlySpan<byte> signature)
    {
        if (signature.Length != algorithms.SignatureSize) return false;
        var m = SignedMessage(version, context, algorithms.Hash(transcript));
        try { return key.VerifyData(m, signature, algorithms.HashName, DSASignatureFormat.IeeeP1363FixedFieldConcatenation); }
        catch (CryptographicException) { return false; }
    }
}
