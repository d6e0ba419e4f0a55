using System.Buffers.Binary;

namespace TsmLab.Spdm.Wire;

/// <summary>The SPDM ERROR response: SPDMVersion, 0x7F, ErrorCode, ErrorData, ExtendedErrorData [SP1,D3].</summary>
public static class SpdmErrorMessage
{
    public const int Size = 4;

    /// <summary>Writes a 4-byte ERROR; returns its size.</summary>
    public static int Write(Span<byte> destination, byte version, SpdmErrorCode code, byte errorData = 0)
    {
        destination[0] = version;
        destination[1] = SpdmCode.Error;
        destination[2] = (byte)code;
        destination[3] = errorData;
        return Size;
    }

    /// <summary>ResponseTooLarge with ExtendedErrorData = the response's size (u32) [SP1].</summary>
    public static int WriteResponseTooLarge(Span<byte> destination, byte version, int responseSize)
    {
        Write(destination, version, SpdmErrorCode.ResponseTooLarge);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], (uint)responseSize);
        return Size + 4;
    }

    /// <summary>True when <paramref name="message"/> is an ERROR; <paramref name="code"/> is its ErrorCode.</summary>
    public static bool IsError(ReadOnlySpan<byte> message, out SpdmErrorCode code)
    {
        code = 0;
        if (message.Length < Size || message[1] != SpdmCode.Error) return false;
        code = (SpdmErrorCode)message[2];
        return true;
    }
}
