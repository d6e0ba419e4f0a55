using System.Formats.Asn1;
using System.Numerics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace TsmLab.Tdisp.Device;

/// <summary>Signs with RFC 6979 deterministic nonces; the signature is a DER ECDSA-Sig-Value.</summary>
/// <remarks>
/// Deterministic ECDSA (RFC 6979, HMAC-SHA-384 nonce) over the curve of a .NET ECDsa key, so the
/// device's certificate chain is byte-stable for a seed. The curve parameters come from the key
/// itself (ExportExplicitParameters), the arithmetic is Jacobian over System.Numerics.BigInteger. A
/// few milliseconds a signature and not constant-time: used only to sign the model's own
/// certificates once per identity, never on a request path.
/// </remarks>
internal sealed class DeterministicEcdsa
{
    private readonly BigInteger p, a, n, d, gx, gy;
    private readonly int size;

    public DeterministicEcdsa(ECDsa key)
    {
        var e = key.ExportExplicitParameters(includePrivateParameters: true);
        p = U(e.Curve.Prime!);
        a = U(e.Curve.A!);
        n = U(e.Curve.Order!);
        gx = U(e.Curve.G.X!);
        gy = U(e.Curve.G.Y!);
        d = U(e.D!);
        size = e.Curve.Order!.Length;
    }

    /// <summary>Signs a digest that is exactly as long as the group order (SHA-384 for P-384).</summary>
    public (BigInteger R, BigInteger S) SignHash(ReadOnlySpan<byte> hash)
    {
        if (hash.Length != size) throw new ArgumentException("the digest must be as long as the curve order", nameof(hash));
        var z = U(hash);
        foreach (var k in Nonces(hash))
        {
            var (x, _) = Multiply(k, gx, gy);
            var r = x % n;
            if (r.IsZero) continue;
            var s = BigInteger.ModPow(k, n - 2, n) * (z + r * d) % n;
            if (s.IsZero) continue;
            return (r, s);
        }
        throw new CryptographicException("no nonce"); // unreachable: Nonces never ends
    }

    /// <summary>DER SEQUENCE { r INTEGER, s INTEGER }.</summary>
    public byte[] SignHashDer(ReadOnlySpan<byte> hash)
    {
        var (r, s) = SignHash(hash);
        var w = new AsnWriter(AsnEncodingRules.DER);
        using (w.PushSequence())
        {
            w.WriteInteger(r);
            w.WriteInteger(s);
        }
        return w.Encode();
    }

    /// <summary>RFC 6979 §3.2 with HMAC-SHA-384; qlen equals the digest length here.</summary>
    private IEnumerable<BigInteger> Nonces(ReadOnlySpan<byte> hash)
    {
        byte[] x = Octets(d);
        byte[] h = Octets(U(hash) % n);
        var v = Enumerable.Repeat((byte)1, 48).ToArray();
        var k = new byte[48];
        k = HMACSHA384.HashData(k, (byte[])[.. v, 0x00, .. x, .. h]);
        v = HMACSHA384.HashData(k, v);
        k = HMACSHA384.HashData(k, (byte[])[.. v, 0x01, .. x, .. h]);
        v = HMACSHA384.HashData(k, v);
        return Generate(k, v);

        IEnumerable<BigInteger> Generate(byte[] key, byte[] vee)
        {
            while (true)
            {
                var t = new List<byte>(size);
                while (t.Count < size)
                {
                    vee = HMACSHA384.HashData(key, vee);
                    t.AddRange(vee);
                }
                var candidate = U(t.Take(size).ToArray());
                if (candidate >= 1 && candidate < n) yield return candidate;
                key = HMACSHA384.HashData(key, (byte[])[.. vee, 0x00]);
                vee = HMACSHA384.HashData(key, vee);
            }
        }
    }

    /// <summary>k·(x, y) in Jacobian coordinates (one inversion at the end), returned affine.</summary>
    private (BigInteger X, BigInteger Y) Multiply(BigInteger k, BigInteger x, BigInteger y)
    {
        var acc = (X: BigInteger.One, Y: BigInteger.One, Z: BigInteger.Zero); // the point at infinity
        var addend = (X: x, Y: y, Z: BigInteger.One);
        while (!k.IsZero)
        {
            if (!k.IsEven) acc = Add(acc, addend);
            addend = Double(addend);
            k >>= 1;
        }
        if (acc.Z.IsZero) throw new CryptographicException("zero scalar");
        var zInv = Inverse(acc.Z);
        var zInv2 = Mod(zInv * zInv);
        return (Mod(acc.X * zInv2), Mod(acc.Y * zInv2 * zInv));
    }

    private (BigInteger X, BigInteger Y, BigInteger Z) Add((BigInteger X, BigInteger Y, BigInteger Z) P, (BigInteger X, BigInteger Y, BigInteger Z) Q)
    {
        if (P.Z.IsZero) return Q;
        if (Q.Z.IsZero) return P;
        var z1z1 = Mod(P.Z * P.Z);
        var z2z2 = Mod(Q.Z * Q.Z);
        var u1 = Mod(P.X * z2z2);
        var u2 = Mod(Q.X * z1z1);
        var s1 = Mod(P.Y * Q.Z * z2z2);
        var s2 = Mod(Q.Y * P.Z * z1z1);
        if (u1 == u2) return s1 == s2 ? Double(P) : (BigInteger.One, BigInteger.One, BigInteger.Zero);
        var h = Mod(u2 - u1);
        var r = Mod(s2 - s1);
        var hh = Mod(h * h);
        var hhh = Mod(h * hh);
        var v = Mod(u1 * hh);
        var x3 = Mod(r * r - hhh - 2 * v);
        return (x3, Mod(r * (v - x3) - s1 * hhh), Mod(P.Z * Q.Z * h));
    }

    private (BigInteger X, BigInteger Y, BigInteger Z) Double((BigInteger X, BigInteger Y, BigInteger Z) P)
    {
        if (P.Z.IsZero || P.Y.IsZero) return (BigInteger.One, BigInteger.One, BigInteger.Zero);
        var xx = Mod(P.X * P.X);
        var yy = Mod(P.Y * P.Y);
        var zz = Mod(P.Z * P.Z);
        var s = Mod(4 * P.X * yy);
        var m = Mod(3 * xx + a * zz * zz);
        var x3 = Mod(m * m - 2 * s);
        return (x3, Mod(m * (s - x3) - 8 * yy * yy), Mod(2 * P.Y * P.Z));
    }

    private BigInteger Inverse(BigInteger v) => BigInteger.ModPow(Mod(v), p - 2, p);
    private BigInteger Mod(BigInteger v) => ((v % p) + p) % p;
    private static BigInteger U(ReadOnlySpan<byte> bigEndian) => new(bigEndian, isUnsigned: true, isBigEndian: true);

    private byte[] Octets(BigInteger v)
    {
        var b = new byte[size];
        v.TryWriteBytes(b.AsSpan(size - v.GetByteCount(isUnsigned: true)), out _, isUnsigned: true, isBigEndian: true);
        return b;
    }
}

/// <summary>An X.509 signature generator that signs with <see cref="DeterministicEcdsa"/> (SHA-384).</summary>
internal sealed class DeterministicEcdsaSignatureGenerator(ECDsa key) : X509SignatureGenerator
{
    private readonly X509SignatureGenerator inner = CreateForECDsa(key);
    private readonly DeterministicEcdsa signer = new(key);

    public override byte[] GetSignatureAlgorithmIdentifier(HashAlgorithmName hashAlgorithm) => inner.GetSignatureAlgorithmIdentifier(hashAlgorithm);

    public override byte[] SignData(byte[] data, HashAlgorithmName hashAlgorithm)
    {
        if (hashAlgorithm != HashAlgorithmName.SHA384) throw new ArgumentException("only SHA-384 is used for the device chain", nameof(hashAlgorithm));
        return signer.SignHashDer(SHA384.HashData(data));
    }

    protected override PublicKey BuildPublicKey() => inner.PublicKey;
}
