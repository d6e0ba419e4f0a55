using System.Buffers.Binary;
using System.Security.Cryptography;
using TsmLab.Spdm.Wire;

namespace TsmLab.Spdm.Session;

/// <summary>One direction's AEAD state: key, IV salt and the implicit 64-bit sequence number [SP2,SP3].</summary>
/// <remarks>
/// DSP0277 [SP2] with the PCI DOE binding [SP3]: the per-message IV is the derived IV with the
/// sequence number XORed little-endian into bytes 0..7 (DSP0277 1.2; libspdm [SP5] uses the same for the
/// other versions it selects by default); the counter starts at 0 for each key and counts every
/// message sealed or opened with it. The cipher object is made once per key, so sealing and opening
/// allocate nothing. Not thread-safe: a session is used by one caller at a time.
/// </remarks>
public sealed class SpdmAead : IDisposable
{
    private readonly AesGcm? gcm;
    private readonly ChaCha20Poly1305? chacha;
    private readonly byte[] iv;

    public SpdmAead(ushort aead, byte[] key, byte[] iv)
    {
        this.iv = iv;
        if (aead == SpdmAlgorithmBits.AeadChaCha20Poly1305) chacha = new ChaCha20Poly1305(key);
        else gcm = new AesGcm(key, SpdmAlgorithmSet.AeadTagSize);
        CryptographicOperations.ZeroMemory(key);
    }

    /// <summary>The sequence number the next message uses.</summary>
    public ulong Sequence { get; private set; }

    /// <summary>Encrypts with the next sequence number.</summary>
    public void Seal(ReadOnlySpan<byte> aad, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext, Span<byte> tag)
    {
        Span<byte> nonce = stackalloc byte[SpdmAlgorithmSet.AeadIvSize];
        Nonce(nonce);
        if (chacha is not null) chacha.Encrypt(nonce, plaintext, ciphertext, tag, aad);
        else gcm!.Encrypt(nonce, plaintext, ciphertext, tag, aad);
        Sequence++;
    }

    /// <summary>Decrypts with the next sequence number; false (and the counter unchanged) when the tag does not verify.</summary>
    public bool TryOpen(ReadOnlySpan<byte> aad, ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> tag, Span<byte> plaintext)
    {
        Span<byte> nonce = stackalloc byte[SpdmAlgorithmSet.AeadIvSize];
        Nonce(nonce);
        try
        {
            if (chacha is not null) chacha.Decrypt(nonce, ciphertext, tag, plaintext, aad);
            else gcm!.Decrypt(nonce, ciphertext, tag, plaintext, aad);
        }
        catch (AuthenticationTagMismatchException)
        {
            plaintext.Clear();
            return false;
        }
        Sequence++;
        return true;
    }

    private void Nonce(Span<byte> nonce)
    {
        iv.CopyTo(nonce);
        ulong s = BinaryPrimitives.ReadUInt64LittleEndian(nonce) ^ Sequence;
        BinaryPrimitives.WriteUInt64LittleEndian(nonce, s);
    }

    public void Dispose()
    {
        gcm?.Dispose();
        chacha?.Dispose();
        CryptographicOperations.ZeroMemory(iv);
    }
}
