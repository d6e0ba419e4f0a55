using System.Buffers.Binary;

namespace TsmLab.EmuSocket;

/// <summary>
/// The emulator socket protocol's 12-byte header, big-endian on the wire [E5]:
/// <c>u32 command | u32 transport_type | u32 payload_size</c>, then the payload.
/// </summary>
public readonly record struct EmuSocketHeader(uint Command, uint Transport, uint PayloadSize)
{
    public const int Size = 12;

    public static EmuSocketHeader Read(ReadOnlySpan<byte> bytes) => new(
        BinaryPrimitives.ReadUInt32BigEndian(bytes),
        BinaryPrimitives.ReadUInt32BigEndian(bytes[4..]),
        BinaryPrimitives.ReadUInt32BigEndian(bytes[8..]));

    public void Write(Span<byte> bytes)
    {
        BinaryPrimitives.WriteUInt32BigEndian(bytes, Command);
        BinaryPrimitives.WriteUInt32BigEndian(bytes[4..], Transport);
        BinaryPrimitives.WriteUInt32BigEndian(bytes[8..], PayloadSize);
    }
}
