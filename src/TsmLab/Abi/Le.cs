using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace TsmLab.Abi;

/// <summary>Little-endian field access at a byte offset: the only way wire layouts are read or written.</summary>
public static class Le
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint U32(ReadOnlySpan<byte> b, int offset) => BinaryPrimitives.ReadUInt32LittleEndian(b[offset..]);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int S32(ReadOnlySpan<byte> b, int offset) => BinaryPrimitives.ReadInt32LittleEndian(b[offset..]);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong U64(ReadOnlySpan<byte> b, int offset) => BinaryPrimitives.ReadUInt64LittleEndian(b[offset..]);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort U16(ReadOnlySpan<byte> b, int offset) => BinaryPrimitives.ReadUInt16LittleEndian(b[offset..]);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Put32(Span<byte> b, int offset, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(b[offset..], value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Put64(Span<byte> b, int offset, ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(b[offset..], value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Put16(Span<byte> b, int offset, ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(b[offset..], value);
}
