using TsmLab.Abi;
using TsmLab.Kernel;

namespace TsmLab.Vmm;

/// <summary>
/// A VMM's scratch buffer for ioctl structs: one anonymous read-write mapping in its own
/// address space, handed out by a bump allocator (8-byte aligned, as __aligned_u64 needs).
/// </summary>
public sealed class ScratchMemory
{
    private readonly Process process;
    private readonly ulong size;
    private ulong used;

    public ScratchMemory(Process process, ulong baseAddress = 0x7f00_0000_0000, ulong size = 1 << 20)
    {
        this.process = process;
        Base = baseAddress;
        this.size = size;
        int rc = process.Memory.Map(baseAddress, size, Prot.ReadWrite);
        if (rc < 0) throw new InvalidOperationException($"scratch mmap failed: {ErrnoNames.NameOf(rc)}");
    }

    public ulong Base { get; }

    /// <summary>Allocates and zeroes <paramref name="length"/> bytes; returns their user address.</summary>
    public ulong Alloc(int length)
    {
        ulong aligned = (used + 7) & ~7ul;
        if (aligned + (ulong)length > size) throw new InvalidOperationException("scratch memory exhausted");
        used = aligned + (ulong)length;
        ulong addr = Base + aligned;
        process.Memory.CopyToUser(addr, new byte[length]);
        return addr;
    }

    /// <summary>Allocates room for <paramref name="bytes"/> and writes them there.</summary>
    public ulong Put(ReadOnlySpan<byte> bytes)
    {
        ulong addr = Alloc(Math.Max(bytes.Length, 1));
        process.Memory.CopyToUser(addr, bytes);
        return addr;
    }

    /// <summary>Reads bytes back as the process sees them.</summary>
    public byte[] Read(ulong addr, int length)
    {
        var b = new byte[length];
        process.Memory.CopyFromUser(b, addr);
        return b;
    }

    /// <summary>Forgets every allocation (the mapping stays).</summary>
    public void Reset() => used = 0;
}
