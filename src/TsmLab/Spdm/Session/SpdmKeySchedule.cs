using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using TsmLab.Spdm.Wire;

namespace TsmLab.Spdm.Session;

/// <summary>The SPDM key schedule (DSP0274 "Key schedule"): HKDF with BinConcat labels [SP1,D3].</summary>
/// <remarks>
/// BinConcat(Length, Version, Label, Context) = Length u16 (little-endian) || "spdm1.x " (x from the
/// negotiated SPDM version, not the secured-message version) || Label || Context [SP1]; libspdm's
/// bin_concat writes the same bytes [SP5]. With H the hash size:
/// HandshakeSecret = HKDF-Extract(salt = H zero bytes, DHE secret);
/// {req,rsp} handshake secret = HKDF-Expand(HandshakeSecret, BinConcat(H, "req hs data"/"rsp hs data", TH1));
/// Salt1 = HKDF-Expand(HandshakeSecret, BinConcat(H, "derived")); MasterSecret = HKDF-Extract(Salt1, H zero bytes);
/// {req,rsp} data secret = HKDF-Expand(MasterSecret, BinConcat(H, "req app data"/"rsp app data", TH2));
/// per secret: key = Expand(BinConcat(keylen, "key")), IV = Expand(BinConcat(12, "iv")),
/// finished key = Expand(BinConcat(H, "finished")); key update: Expand(secret, BinConcat(H, "traffic upd")).
/// </remarks>
public static class SpdmKeySchedule
{
    /// <summary>BinConcat as DSP0274 defines it; <paramref name="context"/> may be empty.</summary>
    public static byte[] BinConcat(byte spdmVersion, int length, string label, ReadOnlySpan<byte> context)
    {
        var b = new byte[2 + 8 + label.Length + context.Length];
        BinaryPrimitives.WriteUInt16LittleEndian(b, (ushort)length);
        Encoding.ASCII.GetBytes("spdm", b.AsSpan(2));
        b[6] = (byte)SpdmVersion.Major(spdmVersion);
        b[7] = (byte)'.';
        b[8] = (byte)SpdmVersion.Minor(spdmVersion);
        b[9] = (byte)' ';
        Encoding.ASCII.GetBytes(label, b.AsSpan(10));
        context.CopyTo(b.AsSpan(10 + label.Length));
        return b;
    }

    /// <summary>HKDF-Expand(<paramref name="secret"/>, BinConcat(length, label, context), length).</summary>
    public static byte[] Expand(SpdmAlgorithmSet a, byte version, ReadOnlySpan<byte> secret, string label, ReadOnlySpan<byte> context, int length)
    {
        var okm = new byte[length];
        HKDF.Expand(a.HashName, secret, okm, BinConcat(version, length, label, context));
        return okm;
    }

    /// <summary>HandshakeSecret and the two handshake secrets from the DHE secret (or the PSK) and TH1's hash.</summary>
    /// <remarks>Salt_0 is H zero bytes, except for a PSK at SPDM 1.3 and later: H bytes of 0xFF (as libspdm derives it [SP5]).</remarks>
    public static (byte[] HandshakeSecret, byte[] Request, byte[] Response) Handshake(SpdmAlgorithmSet a, byte version, ReadOnlySpan<byte> dheSecret, ReadOnlySpan<byte> th1Hash, bool psk = false)
    {
        int h = a.HashSize;
        var hs = new byte[h];
        var salt0 = new byte[h];
        if (psk && version >= SpdmVersion.V13) salt0.AsSpan().Fill(0xFF);
        HKDF.Extract(a.HashName, dheSecret, salt0, hs);
        return (hs, Expand(a, version, hs, "req hs data", th1Hash, h), Expand(a, version, hs, "rsp hs data", th1Hash, h));
    }

    /// <summary>The two data (application) secrets from the HandshakeSecret and TH2's hash.</summary>
    public static (byte[] Request, byte[] Response) Data(SpdmAlgorithmSet a, byte version, ReadOnlySpan<byte> handshakeSecret, ReadOnlySpan<byte> th2Hash)
    {
        int h = a.HashSize;
        var salt1 = Expand(a, version, handshakeSecret, "derived", default, h);
        var master = new byte[h];
        HKDF.Extract(a.HashName, new byte[h], salt1, master);
        CryptographicOperations.ZeroMemory(salt1);
        var r = (Expand(a, version, master, "req app data", th2Hash, h), Expand(a, version, master, "rsp app data", th2Hash, h));
        CryptographicOperations.ZeroMemory(master);
        return r;
    }

    /// <summary>The finished key of a handshake secret.</summary>
    public static byte[] FinishedKey(SpdmAlgorithmSet a, byte version, ReadOnlySpan<byte> secret) =>
        Expand(a, version, secret, "finished", default, a.HashSize);

    /// <summary>The next secret of a direction after KEY_UPDATE.</summary>
    public static byte[] Update(SpdmAlgorithmSet a, byte version, ReadOnlySpan<byte> secret) =>
        Expand(a, version, secret, "traffic upd", default, a.HashSize);
}
