using System.Buffers.Binary;

namespace TsmLab.Tdisp.Wire;

/// <summary>MMIO_RANGE range_attributes bits; bits 4-15 must be 0 [D1,V1].</summary>
/// <remarks>
/// MMIO_RANGE (16 B) [D1,O1,T4] (§5.5): first_page u64 (byte address of the first 4K page,
/// MMIO_REPORTING_OFFSET added), number_of_pages u32, range_attributes u16, range_id u16.
/// </remarks>
[Flags]
public enum MmioRangeAttributes : ushort
{
    None = 0,
    MsixTable = 1 << 0,
    MsixPba = 1 << 1,
    IsNonTeeMem = 1 << 2,
    IsMemAttrUpdatable = 1 << 3,
}

/// <summary>One MMIO range of a device interface report [D1].</summary>
public readonly record struct MmioRange(ulong FirstPage, uint NumberOfPages, MmioRangeAttributes Attributes, ushort RangeId)
{
    public const int Size = 16;
    public const int PageSize = 4096;
    public const ushort ReservedAttributeMask = 0xFFF0;

    public static MmioRange Read(ReadOnlySpan<byte> source) => new(
        BinaryPrimitives.ReadUInt64LittleEndian(source),
        BinaryPrimitives.ReadUInt32LittleEndian(source[8..]),
        (MmioRangeAttributes)BinaryPrimitives.ReadUInt16LittleEndian(source[12..]),
        BinaryPrimitives.ReadUInt16LittleEndian(source[14..]));

    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(destination, FirstPage);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[8..], NumberOfPages);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[12..], (ushort)Attributes);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[14..], RangeId);
    }
}
