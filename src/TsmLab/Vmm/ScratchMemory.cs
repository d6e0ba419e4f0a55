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

    /// <summary>Where scratch buffers go when no address is given: the first free <c>size</c>-aligned slot from here up.</summary>
    public const ulong DefaultBase = 0x7f00_0000_0000;

    /// <summary>
    /// Maps the buffer at <paramref name="baseAddress"/>, or, when none is given, in the first
    /// slot at or above <see cref="DefaultBase"/> with nothing mapped yet, so several users of one
    /// process (two assignments, a benchmark's threads) never share or replace each other's scratch.
    /// </summary>
    public ScratchMemory(Process process, ulong? baseAddress = null, ulong size = 1 << 20)
    {
        this.process = process;
        this.size = size;
        Base = baseAddress ?? FreeSlot(process, size);
        int rc = process.Memory.Map(Base, size, Prot.ReadWrite);
        if (rc < 0) throw new InvalidOperationException($"scratch mmap failed: {ErrnoNames.NameOf(rc)}");
    }

    private static ulong FreeSlot(Process process, ulong size)
    {
        for (ulong slot = DefaultBase; slot < DefaultBase + 4096 * size; slot += size)
        {
            bool free = true;
            for (ulong page = slot; page < slot + size && free; page += AddressSpace.PageSize)
                free = !process.Memory.IsAccessible(page, AddressSpace.PageSize, Prot.None);
            if (free) return slot;
        }
        throw new InvalidOperationException("no free slot for scratch memory");
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
