using System.Buffers.Binary;
using System.Security.Cryptography;

namespace TsmLab.Tdisp.Device;

/// <summary>A source of random bytes for the DSM; injectable so tests can fail it or make it deterministic.</summary>
/// <remarks>
/// Where the DSM gets START_INTERFACE nonces. A real device uses its DRBG; a failing source makes
/// LOCK answer INSUFFICIENT_ENTROPY [E1] (§5.4).
/// </remarks>
public interface ITdispEntropySource
{
    /// <summary>Fills <paramref name="destination"/>; false when no entropy is available.</summary>
    bool TryFill(Span<byte> destination);
}

/// <summary>The operating system's CSPRNG (<see cref="RandomNumberGenerator"/>).</summary>
public sealed class SystemEntropySource : ITdispEntropySource
{
    public static SystemEntropySource Instance { get; } = new();

    public bool TryFill(Span<byte> destination)
    {
        try
        {
            RandomNumberGenerator.Fill(destination);
            return true;
        }
        catch (CryptographicException)
        {
            return false;
        }
    }
}

/// <summary>A reproducible source: SHA-384 over (seed, counter). For tests and reproducible scenario runs only.</summary>
public sealed class DeterministicEntropySource(ulong seed) : ITdispEntropySource
{
    private ulong counter;

    public bool TryFill(Span<byte> destination)
    {
        Span<byte> input = stackalloc byte[16];
        Span<byte> block = stackalloc byte[48];
        BinaryPrimitives.WriteUInt64LittleEndian(input, seed);
        while (!destination.IsEmpty)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(input[8..], counter++);
            SHA384.HashData(input, block);
            int n = Math.Min(block.Length, destination.Length);
            block[..n].CopyTo(destination);
            destination = destination[n..];
        }
        return true;
    }
}
