using System.Buffers.Binary;

namespace TsmLab.Tdisp.Wire;

/// <summary>DOE data object types of the PCI-SIG vendor [D2].</summary>
/// <remarks>
/// PCIe DOE data-object header (8 B) [D2] (§5.1): 0 vendor_id u16 (0x0001 PCI-SIG) | 2 type u8 (0
/// DISCOVERY, 1 SPDM, 2 SECURED_SPDM) | 3 reserved 4 length u32: DWORDs including the header in
/// bits 0-17 (0 means 2^18), bits 18-31 reserved.
/// </remarks>
public enum DoeObjectType : byte
{
    Discovery = 0,
    Spdm = 1,
    SecuredSpdm = 2,
}

/// <summary>The 8-byte DOE data-object header [D2].</summary>
public readonly record struct DoeHeader(ushort VendorId, DoeObjectType Type, int LengthDwords)
{
    public const int Size = 8;
    public const ushort VendorPciSig = 0x0001;
    public const int MaxLengthDwords = 1 << 18;

    /// <summary>Object size in bytes, header included.</summary>
    public int LengthBytes => LengthDwords * 4;

    /// <summary>Reads the header; false when short or the length field is below the header's own size.</summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out DoeHeader header)
    {
        header = default;
        if (source.Length < Size)
            return false;
        uint raw = BinaryPrimitives.ReadUInt32LittleEndian(source[4..]) & 0x3FFFF;
        int dwords = raw == 0 ? MaxLengthDwords : (int)raw;
        if (dwords < 2)
            return false;
        header = new DoeHeader(BinaryPrimitives.ReadUInt16LittleEndian(source), (DoeObjectType)source[2], dwords);
        return true;
    }

    /// <summary>Writes a PCI-SIG header for <paramref name="payloadBytes"/> of payload, which is padded to a DWORD.</summary>
    public static void Write(Span<byte> destination, DoeObjectType type, int payloadBytes)
    {
        int dwords = 2 + (payloadBytes + 3) / 4;
        BinaryPrimitives.WriteUInt16LittleEndian(destination, VendorPciSig);
        destination[2] = (byte)type;
        destination[3] = 0;
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], dwords == MaxLengthDwords ? 0u : (uint)dwords);
    }

    /// <summary>Total object bytes for a payload (header + DWORD padding).</summary>
    public static int ObjectSize(int payloadBytes) => Size + (payloadBytes + 3) / 4 * 4;
}
