using System.Buffers.Binary;

namespace TsmLab.Tdisp.Wire;

/// <summary>An SPDM VENDOR_DEFINED request or response carrying a PCI-SIG payload [D2,D3].</summary>
/// <remarks>
/// SPDM VENDOR_DEFINED_REQUEST (0xFE) / VENDOR_DEFINED_RESPONSE (0x7E) with the PCI-SIG ids [D2,D3]
/// (§5.1). Classic form (SPDM 1.0-1.3, and 1.4 without the large flag): 0 SPDMVersion | 1 code | 2
/// param1 | 3 param2 | 4 standard_id u16 = 3 | 6 len u8 = 2 7 vendor_id u16 = 0x0001 | 9
/// payload_length u16 | 11 payload (protocol_id, message) SPDM 1.4 large form (libspdm pcidoe.h
/// pci_doe_spdm_vendor_defined_header_large_t [D2], spdm.h SPDM_VENDOR_DEFINED_REQUEST_LARGE_REQ
/// [D3]): SPDMVersion &gt;= 0x14 and param1 bit 7 (0x80, LargeReq / LargeResp) set, then 4
/// standard_id u16 | 6 len u8 = 2 | 7 vendor_id u16 | 9 legacy payload_length u16 (written 0; the
/// reference requester leaves it unset, so it is ignored on read) | 11 payload_length u32 | 15
/// payload (shared/spec/spdm.md, "Vendor-defined messages").
/// </remarks>
public readonly ref struct SpdmVendorDefinedMessage
{
    public const byte RequestCode = 0xFE;
    public const byte ResponseCode = 0x7E;
    public const byte ErrorCode = 0x7F;
    public const ushort StandardIdPciSig = 3;
    public const ushort VendorIdPciSig = 0x0001;
    /// <summary>param1 bit 7: LargeReq / LargeResp (SPDM 1.4) [D3].</summary>
    public const byte LargePayloadFlag = 0x80;
    public const byte SpdmVersion12 = 0x12;
    public const byte SpdmVersion14 = 0x14;
    public const int ClassicHeaderSize = 11;
    public const int LargeHeaderSize = 15;

    public byte SpdmVersion { get; }
    public byte Code { get; }
    public bool IsLarge { get; }
    /// <summary>The PCI-SIG payload: protocol_id then the protocol message.</summary>
    public ReadOnlySpan<byte> Payload { get; }

    private SpdmVendorDefinedMessage(byte version, byte code, bool large, ReadOnlySpan<byte> payload)
    {
        SpdmVersion = version;
        Code = code;
        IsLarge = large;
        Payload = payload;
    }

    /// <summary>Parses a VENDOR_DEFINED message with the PCI-SIG registry and vendor id; false otherwise.
    /// The message may carry trailing bytes (DOE padding) after the payload.</summary>
    public static bool TryRead(ReadOnlySpan<byte> message, out SpdmVendorDefinedMessage result)
    {
        result = default;
        if (message.Length < ClassicHeaderSize || (message[1] != RequestCode && message[1] != ResponseCode))
            return false;
        if (BinaryPrimitives.ReadUInt16LittleEndian(message[4..]) != StandardIdPciSig || message[6] != 2
            || BinaryPrimitives.ReadUInt16LittleEndian(message[7..]) != VendorIdPciSig)
            return false;
        bool large = message[0] >= SpdmVersion14 && (message[2] & LargePayloadFlag) != 0;
        int header = large ? LargeHeaderSize : ClassicHeaderSize;
        if (message.Length < header)
            return false;
        long length = large ? BinaryPrimitives.ReadUInt32LittleEndian(message[11..]) : BinaryPrimitives.ReadUInt16LittleEndian(message[9..]);
        if (length > message.Length - header)
            return false;
        result = new SpdmVendorDefinedMessage(message[0], message[1], large, message.Slice(header, (int)length));
        return true;
    }

    /// <summary>Header size for the chosen form.</summary>
    public static int HeaderSize(bool large) => large ? LargeHeaderSize : ClassicHeaderSize;

    /// <summary>Writes the header in front of a payload the caller already placed at
    /// <see cref="HeaderSize"/>; returns the message size. The classic form caps the payload at 65535 bytes.</summary>
    public static int WriteHeader(Span<byte> destination, byte spdmVersion, byte code, bool large, int payloadLength)
    {
        if (!large && payloadLength > ushort.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(payloadLength), "the classic VENDOR_DEFINED form carries at most 65535 bytes");
        destination[0] = spdmVersion;
        destination[1] = code;
        destination[2] = large ? LargePayloadFlag : (byte)0;
        destination[3] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(destination[4..], StandardIdPciSig);
        destination[6] = 2;
        BinaryPrimitives.WriteUInt16LittleEndian(destination[7..], VendorIdPciSig);
        if (large)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(destination[9..], 0);
            BinaryPrimitives.WriteUInt32LittleEndian(destination[11..], (uint)payloadLength);
        }
        else
        {
            BinaryPrimitives.WriteUInt16LittleEndian(destination[9..], (ushort)payloadLength);
        }
        return HeaderSize(large) + payloadLength;
    }

    /// <summary>Writes a whole message around <paramref name="payload"/>.</summary>
    public static int Write(Span<byte> destination, byte spdmVersion, byte code, bool large, ReadOnlySpan<byte> payload)
    {
        payload.CopyTo(destination[HeaderSize(large)..]);
        return WriteHeader(destination, spdmVersion, code, large, payload.Length);
    }

    /// <summary>Writes an SPDM ERROR (0x7F) with param1 = <paramref name="spdmError"/> (0x01 InvalidRequest); 4 bytes.</summary>
    public static int WriteSpdmError(Span<byte> destination, byte spdmVersion, byte spdmError)
    {
        destination[0] = spdmVersion;
        destination[1] = ErrorCode;
        destination[2] = spdmError;
        destination[3] = 0;
        return 4;
    }
}
