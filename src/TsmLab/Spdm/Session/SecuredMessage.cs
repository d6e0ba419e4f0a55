using System.Buffers.Binary;
using TsmLab.Spdm.Wire;

namespace TsmLab.Spdm.Session;

/// <summary>DSP0277 secured messages in the PCI DOE binding: the body of a DOE data object of type 2 [SP2,SP3].</summary>
/// <remarks>
/// Layout [SP2,SP3]: SessionID u32 | (no sequence number: the DOE binding's size is 0) | Length u16
/// (ciphertext + 16-byte MAC) | AEAD{ ApplicationDataLength u16 | SPDM message } (no random
/// padding) | MAC[16]. The AAD is SessionID || Length. Up to 3 trailing bytes (DOE DWORD padding)
/// are ignored; more is a malformed object.
/// </remarks>
public static class SecuredMessage
{
    public const int HeaderSize = 6;
    public const int Overhead = HeaderSize + 2 + SpdmAlgorithmSet.AeadTagSize;

    /// <summary>The session id of a secured message, or false when it is too short.</summary>
    public static bool TryReadSessionId(ReadOnlySpan<byte> secured, out uint sessionId)
    {
        sessionId = 0;
        if (secured.Length < HeaderSize) return false;
        sessionId = BinaryPrimitives.ReadUInt32LittleEndian(secured);
        return true;
    }

    /// <summary>Seals <paramref name="app"/> with <paramref name="aead"/>; returns the secured message size.</summary>
    public static int Seal(uint sessionId, SpdmAead aead, ReadOnlySpan<byte> app, Span<byte> destination)
    {
        int cipherLen = 2 + app.Length;
        int length = cipherLen + SpdmAlgorithmSet.AeadTagSize;
        BinaryPrimitives.WriteUInt32LittleEndian(destination, sessionId);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[4..], (ushort)length);
        var plain = destination.Slice(HeaderSize, cipherLen);
        // Encrypt in place: write the plaintext where the ciphertext goes (AES-GCM and ChaCha20 allow exact overlap).
        app.CopyTo(plain[2..]);
        BinaryPrimitives.WriteUInt16LittleEndian(plain, (ushort)app.Length);
        aead.Seal(destination[..HeaderSize], plain, plain, destination.Slice(HeaderSize + cipherLen, SpdmAlgorithmSet.AeadTagSize));
        return HeaderSize + length;
    }

    /// <summary>The largest application message a secured message of <paramref name="maxSecured"/> bytes carries.</summary>
    public static int MaxApp(int maxSecured) => maxSecured - Overhead;

    /// <summary>
    /// Opens a secured message into <paramref name="app"/> (at least as long as the ciphertext);
    /// returns the application message's length, or -1 when the framing is wrong, the MAC does not
    /// verify (tampered, replayed or reordered: the implicit sequence number differs) or the inner
    /// length is out of range. <paramref name="aead"/>'s sequence number advances only on success.
    /// </summary>
    public static int Open(SpdmAead aead, ReadOnlySpan<byte> secured, Span<byte> app)
    {
        if (secured.Length < Overhead) return -1;
        int length = BinaryPrimitives.ReadUInt16LittleEndian(secured[4..]);
        if (length < 2 + SpdmAlgorithmSet.AeadTagSize || length > secured.Length - HeaderSize || secured.Length - HeaderSize - length > 3)
            return -1;
        int cipherLen = length - SpdmAlgorithmSet.AeadTagSize;
        if (app.Length < cipherLen) return -1;
        var plain = app[..cipherLen];
        if (!aead.TryOpen(secured[..HeaderSize], secured.Slice(HeaderSize, cipherLen), secured.Slice(HeaderSize + cipherLen, SpdmAlgorithmSet.AeadTagSize), plain))
            return -1;
        int appLen = BinaryPrimitives.ReadUInt16LittleEndian(plain);
        if (appLen > cipherLen - 2) return -1;
        plain.Slice(2, appLen).CopyTo(app);
        return appLen;
    }
}
