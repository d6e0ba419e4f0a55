using System.Buffers.Binary;

namespace TsmLab.Fuzz;

/// <summary>
/// How a target cuts one fuzz input into messages: each is a little-endian u16 length and that
/// many bytes (fewer if the input ends first). A stateful device then sees a whole conversation,
/// so the fuzzer can reach LOCKED and RUN, not only the first message's checks.
/// </summary>
public ref struct FuzzInput(ReadOnlySpan<byte> data)
{
    private ReadOnlySpan<byte> rest = data;

    /// <summary>True when nothing is left.</summary>
    public readonly bool IsEmpty => rest.IsEmpty;

    /// <summary>The next message, or false at the end.</summary>
    public bool Next(out ReadOnlySpan<byte> message)
    {
        message = default;
        if (rest.IsEmpty) return false;
        if (rest.Length < 2)
        {
            message = rest;
            rest = default;
            return true;
        }
        int n = Math.Min(BinaryPrimitives.ReadUInt16LittleEndian(rest), rest.Length - 2);
        message = rest.Slice(2, n);
        rest = rest[(2 + n)..];
        return true;
    }

    /// <summary>Frames messages the way <see cref="Next"/> reads them (for seed corpora).</summary>
    public static byte[] Frame(IEnumerable<byte[]> messages)
    {
        using var ms = new MemoryStream();
        Span<byte> len = stackalloc byte[2];
        foreach (var m in messages)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(len, (ushort)m.Length);
            ms.Write(len);
            ms.Write(m);
        }
        return ms.ToArray();
    }
}
