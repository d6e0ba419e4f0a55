using System.Security.Cryptography;
using TsmLab.Spdm.Session;
using TsmLab.Spdm.Wire;
using static TsmLab.Tests.Spdm.SpdmTestKit;

namespace TsmLab.Tests.Spdm;

/// <summary>The HKDF the key schedule uses, against RFC 5869's vectors [RF1], and BinConcat's bytes [SP1].</summary>
public sealed class HkdfVectorTests
{
    [Theory]
    // RFC 5869 A.1 (basic) and A.3 (zero-length salt and info), HKDF-SHA-256.
    [InlineData("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "000102030405060708090a0b0c", "f0f1f2f3f4f5f6f7f8f9",
        "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")]
    [InlineData("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "", "",
        "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8")]
    public void Hkdf_MatchesRfc5869(string ikm, string salt, string info, string prk, string okm)
    {
        var p = new byte[32];
        HKDF.Extract(HashAlgorithmName.SHA256, Hex(ikm), Hex(salt), p);
        Assert.Equal(prk, Convert.ToHexStringLower(p));
        var o = new byte[42];
        HKDF.Expand(HashAlgorithmName.SHA256, p, o, Hex(info));
        Assert.Equal(okm, Convert.ToHexStringLower(o));
    }

    [Fact]
    public void BinConcat_IsLengthLeThenVersionedLabelThenContext()
    {
        // Length u16 LE | "spdm1.2 " | "key" — the version digits come from the SPDM version.
        Assert.Equal("3000" + "7370646d312e3220" + "6b6579", Convert.ToHexStringLower(SpdmKeySchedule.BinConcat(SpdmVersion.V12, 48, "key", default)));
        Assert.Equal("0c00" + "7370646d312e3420" + "6976", Convert.ToHexStringLower(SpdmKeySchedule.BinConcat(SpdmVersion.V14, 12, "iv", default)));
        var th = new byte[32];
        th[0] = 0xAA;
        var b = SpdmKeySchedule.BinConcat(SpdmVersion.V13, 32, "req hs data", th);
        Assert.Equal("2000" + "7370646d312e3320" + Convert.ToHexStringLower("req hs data"u8) + "aa" + new string('0', 62), Convert.ToHexStringLower(b));
    }

    [Fact]
    public void KeySchedule_FollowsTheDsp0274Chain()
    {
        // Recompute the handshake and data secrets step by step with HKDF and compare.
        var a = new SpdmAlgorithmSet(SpdmAlgorithmBits.AsymEcdsaP256, SpdmAlgorithmBits.HashSha256, 0, SpdmAlgorithmBits.DheSecp256r1, SpdmAlgorithmBits.AeadAes128Gcm, 1);
        var dhe = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();
        var th1 = SHA256.HashData("th1"u8);
        var th2 = SHA256.HashData("th2"u8);
        var hs = new byte[32];
        HKDF.Extract(HashAlgorithmName.SHA256, dhe, new byte[32], hs);
        var (hs2, req, rsp) = SpdmKeySchedule.Handshake(a, SpdmVersion.V12, dhe, th1);
        Assert.Equal(hs, hs2);
        Assert.Equal(HKDF.Expand(HashAlgorithmName.SHA256, hs, 32, SpdmKeySchedule.BinConcat(0x12, 32, "req hs data", th1)), req);
        Assert.Equal(HKDF.Expand(HashAlgorithmName.SHA256, hs, 32, SpdmKeySchedule.BinConcat(0x12, 32, "rsp hs data", th1)), rsp);
        var salt1 = HKDF.Expand(HashAlgorithmName.SHA256, hs, 32, SpdmKeySchedule.BinConcat(0x12, 32, "derived", default));
        var master = HKDF.Extract(HashAlgorithmName.SHA256, new byte[32], salt1);
        var (dreq, drsp) = SpdmKeySchedule.Data(a, SpdmVersion.V12, hs, th2);
        Assert.Equal(HKDF.Expand(HashAlgorithmName.SHA256, master, 32, SpdmKeySchedule.BinConcat(0x12, 32, "req app data", th2)), dreq);
        Assert.Equal(HKDF.Expand(HashAlgorithmName.SHA256, master, 32, SpdmKeySchedule.BinConcat(0x12, 32, "rsp app data", th2)), drsp);
        Assert.Equal(HKDF.Expand(HashAlgorithmName.SHA256, dreq, 32, SpdmKeySchedule.BinConcat(0x12, 32, "traffic upd", default)), SpdmKeySchedule.Update(a, 0x12, dreq));
    }
}
