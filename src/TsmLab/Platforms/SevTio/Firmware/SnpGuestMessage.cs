using System.Security.Cryptography;
using System.Buffers.Binary;

namespace TsmLab.Platforms.SevTio.Firmware;

/// <summary>SNP guest message types of SEV-TIO (2026 numbering, [S1]; OpenVMM uses 19 [O2]).</summary>
/// <remarks>
/// The SNP guest message envelope (drivers/virt/coco/sev-guest/sev-guest.h, struct
/// snp_guest_msg_hdr [S3]): one 4 KiB page, a 0x60-byte header, then the AES-256-GCM ciphertext of
/// the payload. As Linux's enc_payload/dec_payload: the IV is msg_seqno (little-endian, zero padded
/// to 12 bytes), the AAD is the header from `algo` (0x30) to its end (48 bytes), the 16-byte tag
/// sits in authtag[0..16). The header itself is authenticated plaintext; the payload is readable
/// only with the VMPCK.
/// </remarks>
public enum SnpMsgType : byte
{
    TdiInfoRequest = 19,
    TdiInfoResponse = 20,
    MmioValidateRequest = 21,
    MmioValidateResponse = 22,
    MmioConfigRequest = 23,
    MmioConfigResponse = 24,
    SdteWriteRequest = 25,
    SdteWriteResponse = 26,
}

/// <summary>The plaintext header fields of an SNP guest message.</summary>
public readonly record struct SnpMessageHeader(ulong Seqno, byte Algo, byte HeaderVersion, ushort HeaderSize, SnpMsgType Type, byte Version, ushort Size, byte Vmpck)
{
    public static SnpMessageHeader Read(ReadOnlySpan<byte> page) => new(
        BinaryPrimitives.ReadUInt64LittleEndian(page[SnpGuestMessage.SeqnoOffset..]), page[SnpGuestMessage.AlgoOffset], page[SnpGuestMessage.HeaderVersionOffset],
        BinaryPrimitives.ReadUInt16LittleEndian(page[SnpGuestMessage.HeaderSizeOffset..]), (SnpMsgType)page[SnpGuestMessage.TypeOffset], page[SnpGuestMessage.VersionOffset],
        BinaryPrimitives.ReadUInt16LittleEndian(page[SnpGuestMessage.SizeOffset..]), page[SnpGuestMessage.VmpckOffset]);
}

/// <summary>Why a guest message was refused (the PSP answers INVALID_PARAM for each; kept for diagnostics).</summary>
public enum GuestMessageRefusal
{
    None,
    /// <summary>algo ≠ AES-256-GCM, hdr_version ≠ 1, hdr_sz ≠ 0x60, msg_sz beyond the page, msg_version not the TIO version, or a non-request type.</summary>
    BadHeader,
    /// <summary>msg_vmpck names a key the guest was not given (TsmLab provisions VMPCK0 only).</summary>
    WrongVmpck,
    /// <summary>msg_seqno is not the next one expected: a replayed, reordered or skipped message.</summary>
    BadSequence,
    /// <summary>The GCM tag did not verify: ciphertext, header or tag tampered with, or another key.</summary>
    AuthenticationFailed,
    /// <summary>The payload length is not the message type's.</summary>
    BadLength,
}

/// <summary>Seals and opens SNP guest messages with a VMPCK (AES-256-GCM).</summary>
public static class SnpGuestMessage
{
    public const int PageSize = 4096;
    public const int HeaderSize = 0x60;
    public const int MaxPayload = PageSize - HeaderSize;
    public const int AuthTagOffset = 0x00, SeqnoOffset = 0x20, AlgoOffset = 0x30, HeaderVersionOffset = 0x31,
        HeaderSizeOffset = 0x32, TypeOffset = 0x34, VersionOffset = 0x35, SizeOffset = 0x36, VmpckOffset = 0x3C;
    /// <summary>SNP_AEAD_AES_256_GCM.</summary>
    public const byte AlgoAes256Gcm = 1;
    public const byte HeaderVersion1 = 1;
    public const int TagSize = 16, KeySize = 32, NonceSize = 12;
    /// <summary>The AAD: header bytes 0x30..0x5F.</summary>
    public const int AadOffset = AlgoOffset, AadLength = HeaderSize - AlgoOffset;

    /// <summary>
    /// Writes a whole message into <paramref name="page"/> (cleared first): header, ciphertext of
    /// <paramref name="payload"/>, tag. Returns the bytes used (header + payload).
    /// </summary>
    public static int Seal(AesGcm key, Span<byte> page, ulong seqno, SnpMsgType type, byte version, byte vmpck, ReadOnlySpan<byte> payload)
    {
        if (page.Length < PageSize || payload.Length > MaxPayload) throw new ArgumentException("message does not fit a page");
        page[..PageSize].Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(page[SeqnoOffset..], seqno);
        page[AlgoOffset] = AlgoAes256Gcm;
        page[HeaderVersionOffset] = HeaderVersion1;
        BinaryPrimitives.WriteUInt16LittleEndian(page[HeaderSizeOffset..], HeaderSize);
        page[TypeOffset] = (byte)type;
        page[VersionOffset] = version;
        BinaryPrimitives.WriteUInt16LittleEndian(page[SizeOffset..], (ushort)payload.Length);
        page[VmpckOffset] = vmpck;
        Span<byte> iv = stackalloc byte[NonceSize];
        Iv(seqno, iv);
        key.Encrypt(iv, payload, page.Slice(HeaderSize, payload.Length), page.Slice(AuthTagOffset, TagSize), page.Slice(AadOffset, AadLength));
        return HeaderSize + payload.Length;
    }

    /// <summary>
    /// Authenticates and decrypts the payload of <paramref name="page"/> into
    /// <paramref name="payload"/> (at least msg_sz bytes). False when the tag does not verify;
    /// nothing is written to <paramref name="payload"/> then.
    /// </summary>
    public static bool TryOpen(AesGcm key, ReadOnlySpan<byte> page, Span<byte> payload, out int length)
    {
        var h = SnpMessageHeader.Read(page);
        length = h.Size;
        if (h.Size > MaxPayload || payload.Length < h.Size) return false;
        Span<byte> iv = stackalloc byte[NonceSize];
        Iv(h.Seqno, iv);
        try
        {
            key.Decrypt(iv, page.Slice(HeaderSize, h.Size), page.Slice(AuthTagOffset, TagSize), payload[..h.Size], page.Slice(AadOffset, AadLength));
            return true;
        }
        catch (AuthenticationTagMismatchException)
        {
            payload[..h.Size].Clear();
            return false;
        }
    }

    /// <summary>True when the header is one the TIO firmware accepts for a request.</summary>
    public static bool IsWellFormedRequest(in SnpMessageHeader h, byte tioVersion) =>
        h.Algo == AlgoAes256Gcm && h.HeaderVersion == HeaderVersion1 && h.HeaderSize == HeaderSize &&
        h.Size <= MaxPayload && h.Version == tioVersion &&
        h.Type is SnpMsgType.TdiInfoRequest or SnpMsgType.MmioValidateRequest or SnpMsgType.MmioConfigRequest or SnpMsgType.SdteWriteRequest;

    private static void Iv(ulong seqno, Span<byte> iv)
    {
        iv.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(iv, seqno);
    }
}
