using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using TsmLab.Spdm.Session;
using TsmLab.Spdm.Wire;
using TsmLab.Tdisp.Wire;
using static TsmLab.Tests.Spdm.SpdmTestKit;

namespace TsmLab.Tests.Spdm;

/// <summary>DSP0274 / DSP0277 layouts byte by byte [SP1,SP2,SP4], from the spec's field tables.</summary>
public sealed class SpdmMessageLayoutTests
{
    private static string H(ReadOnlySpan<byte> b) => Convert.ToHexStringLower(b);

    [Fact]
    public void Version_ListsOneTwoThroughOneFour()
    {
        using var p = Pair();
        var (type, m) = Plain(p.Mailbox, Hex("10840000"));
        Assert.Equal(DoeObjectType.Spdm, type);
        // SPDMVersion 1.0 | VERSION | 0 | 0 | reserved | count 3 | 0x1200 0x1300 0x1400 (LE), then DOE padding.
        Assert.Equal("10040000" + "0003" + "0012" + "0013" + "0014", H(m.AsSpan(0, 12)));
    }

    [Fact]
    public void Capabilities_Is20BytesWithFlagsAndSizes()
    {
        using var p = Pair();
        Plain(p.Mailbox, Hex("10840000"));
        // GET_CAPABILITIES 1.2: CTExponent 0, flags CERT|CHAL|ENCRYPT|MAC|KEY_EX, DataTransferSize = MaxSPDMmsgSize = 4096.
        var (_, m) = Plain(p.Mailbox, Hex("12e10000" + "00000000" + "c6020000" + "00100000" + "00100000"));
        // CERT|CHAL|MEAS_CAP=signed|ENCRYPT|MAC|KEY_EX|HBEAT|KEY_UPD = 0x62d6; 4608 = 0x1200.
        Assert.Equal("12610000" + "00000000" + "d6620000" + "00120000" + "00120000", H(m.AsSpan(0, 20)));
    }

    [Fact]
    public void Algorithms_SelectsOnePerFieldWithFourStructures()
    {
        using var p = Pair();
        Plain(p.Mailbox, Hex("10840000"));
        Plain(p.Mailbox, Hex("12e10000" + "00000000" + "c6020000" + "00100000" + "00100000"));
        // NEGOTIATE_ALGORITHMS: 4 structs, Length 48, DMTF measurement spec, OpaqueDataFmt1,
        // asym P256|P384, hash SHA256|SHA384; DHE secp256r1|secp384r1, AEAD all three, ReqBaseAsym P256|P384, KeySchedule SPDM.
        // The answer selects one of each, and nothing for ReqBaseAsymAlg (no mutual authentication).
        var (_, m) = Plain(p.Mailbox, Hex("12e30400" + "3000" + "01" + "02" + "90000000" + "03000000" + new string('0', 32)
            + "0220" + "1800" + "0320" + "0700" + "0420" + "9000" + "0520" + "0100"));
        Assert.Equal("12630400" + "3400" + "01" + "02" + "04000000" + "80000000" + "02000000" + new string('0', 8) + new string('0', 14) + "00" + "0000" + "0000"
            + "0220" + "1000" + "0320" + "0200" + "0420" + "0000" + "0520" + "0100", H(m.AsSpan(0, 52)));
    }

    [Fact]
    public async Task Digests_HasSlotMasksPerVersionAndTheChainHash()
    {
        foreach (var (v, param1) in new[] { (SpdmVersion.V12, 0), (SpdmVersion.V13, 1) })
        {
            using var p = Pair(version: v);
            Assert.True((await p.Requester.InitConnectionAsync()).Ok);
            var (_, m) = Plain(p.Mailbox, [v, 0x81, 0, 0]);
            Assert.Equal(new byte[] { v, 0x01, (byte)param1, 0x01 }, m[..4]);
            Assert.Equal(H(SHA384.HashData(SpdmCertChainFormat.Build(Chain(p), p.Requester.Algorithms))), H(m.AsSpan(4, 48)));
        }
    }

    private static IReadOnlyList<byte[]> Chain(SpdmPair p) => [p.Device.Identity.RootCertificate.RawData, p.Device.Identity.LeafCertificate.RawData];

    [Fact]
    public void CertChainFormat_IsLengthReservedRootHashThenDer()
    {
        var a = new SpdmAlgorithmSet(SpdmAlgorithmBits.AsymEcdsaP256, SpdmAlgorithmBits.HashSha256, 0, 0, 0, 0);
        byte[] root = [0x30, 0x03, 1, 2, 3], leaf = [0x30, 0x01, 9];
        var c = SpdmCertChainFormat.Build([root, leaf], a);
        Assert.Equal(4 + 32 + 5 + 3, c.Length);
        Assert.Equal("2c00" + "0000" + H(SHA256.HashData(root)) + "3003010203" + "300109", H(c));
        Assert.True(SpdmCertChainFormat.TrySplit(c, a, out var parts));
        Assert.Equal([(36, 5), (41, 3)], parts);
        c[10] ^= 1; // root hash no longer matches
        Assert.False(SpdmCertChainFormat.TrySplit(c, a, out _));
    }

    [Fact]
    public void SigningPrefix_IsFourVersionStringsThenZeroPaddedContext()
    {
        var b = new byte[100];
        SpdmSignature.WriteCombinedPrefix(b, SpdmVersion.V13, SpdmSignature.ChallengeAuthContext);
        string prefix = string.Concat(Enumerable.Repeat("dmtf-spdm-v1.3.*", 4));
        Assert.Equal(H(Encoding.ASCII.GetBytes(prefix)) + "00000000" + H("responder-challenge_auth signing"u8), H(b));
        SpdmSignature.WriteCombinedPrefix(b, SpdmVersion.V12, SpdmSignature.KeyExchangeRspContext);
        Assert.Equal(0, b[64]); // 36 - 34 = 2 zero bytes
        Assert.Equal(0, b[65]);
        Assert.Equal((byte)'r', b[66]);
    }

    [Fact]
    public void OpaqueData_SupportedVersionsAndSelection()
    {
        var b = new byte[32];
        int n = SpdmOpaqueData.WriteSupportedVersions(b, [0x1200, 0x1100]);
        // TotalElements 1 | reserved | id 0 (DMTF), vendor len 0, data len 7 | SMDataVersion 1, ID 1 (supported), count 2, 1.2, 1.1 | pad
        Assert.Equal("01000000" + "00000700" + "01010200120011" + "00", H(b.AsSpan(0, n)));
        Assert.Equal(0x1200, SpdmOpaqueData.SelectVersion(b.AsSpan(0, n), [0x1100, 0x1200]));
        Assert.Equal(0x1100, SpdmOpaqueData.SelectVersion(b.AsSpan(0, n), [0x1100]));
        n = SpdmOpaqueData.WriteVersionSelection(b, 0x1200);
        Assert.Equal("01000000" + "00000400" + "01000012", H(b.AsSpan(0, n)));
        Assert.Equal(0x1200, SpdmOpaqueData.ReadSelection(b.AsSpan(0, n)));
    }

    [Fact]
    public void SecuredMessage_IsSessionIdLengthCiphertextMacWithSequenceInIv()
    {
        var key = Enumerable.Range(0, 16).Select(i => (byte)i).ToArray();
        var iv = Enumerable.Range(100, 12).Select(i => (byte)i).ToArray();
        using var aead = new SpdmAead(SpdmAlgorithmBits.AeadAes128Gcm, (byte[])key.Clone(), (byte[])iv.Clone());
        byte[] app = [0x12, 0xE8, 0, 0];
        var out1 = new byte[64];
        SecuredMessage.Seal(0xFFFEFFFF, aead, app, out1);
        int n = SecuredMessage.Seal(0xFFFEFFFF, aead, app, out1); // the second message: sequence number 1
        Assert.Equal(6 + 2 + 4 + 16, n);
        Assert.Equal("fffffeff" + "1600", H(out1.AsSpan(0, 6)));
        // Independent check with AesGcm: nonce = IV XOR (1 as u64 LE in bytes 0..7), AAD = SessionID || Length.
        var nonce = (byte[])iv.Clone();
        nonce[0] ^= 1;
        var plain = new byte[6];
        using var gcm = new AesGcm(key, 16);
        gcm.Decrypt(nonce, out1.AsSpan(6, 6), out1.AsSpan(12, 16), plain, out1.AsSpan(0, 6));
        Assert.Equal("0400" + "12e80000", H(plain));
    }
}
