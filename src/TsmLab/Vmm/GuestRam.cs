using TsmLab.Abi;
using TsmLab.Kernel;

namespace TsmLab.Vmm;

/// <summary>
/// A guest's RAM as a VMM holds it: one anonymous mapping in the VMM process (like QEMU's memory
/// backend), guest physical address <c>gpa</c> at host virtual address <c>HvaBase + gpa</c>.
/// The VMM passes HVAs to the kernel (so a TSM response can land straight in a guest's shared
/// buffer); the guest model reads and writes by GPA. Accesses outside the RAM are refused, never
/// wrapped.
/// </summary>
public sealed class GuestRam
{
    private readonly Process vmm;

    public GuestRam(Process vmm, ulong hvaBase, ulong size)
    {
        if ((hvaBase & (AddressSpace.PageSize - 1)) != 0 || size == 0 || (size & (AddressSpace.PageSize - 1)) != 0)
            throw new ArgumentException("guest RAM must be a non-empty whole number of pages at a page-aligned address");
        int rc = vmm.Memory.Map(hvaBase, size, Prot.ReadWrite);
        if (rc < 0) throw new InvalidOperationException($"guest RAM mmap failed: {ErrnoNames.NameOf(rc)}");
        this.vmm = vmm;
        HvaBase = hvaBase;
        Size = size;
    }

    public ulong HvaBase { get; }
    public ulong Size { get; }

    /// <summary>True when [gpa, gpa + length) lies inside guest RAM.</summary>
    public bool Contains(ulong gpa, ulong length) => length <= Size && gpa <= Size - length;

    /// <summary>The VMM's address of a guest physical address, or false outside RAM.</summary>
    public bool TryHva(ulong gpa, ulong length, out ulong hva)
    {
        hva = Contains(gpa, length) ? HvaBase + gpa : 0;
        return hva != 0;
    }

    /// <summary>The guest reads its own memory. False outside RAM.</summary>
    public bool Read(ulong gpa, Span<byte> destination) =>
        Contains(gpa, (ulong)destination.Length) && vmm.Memory.CopyFromUser(destination, HvaBase + gpa) == 0;

    /// <summary>The guest writes its own memory. False outside RAM.</summary>
    public bool Write(ulong gpa, ReadOnlySpan<byte> source) =>
        Contains(gpa, (ulong)source.Length) && vmm.Memory.CopyToUser(HvaBase + gpa, source) == 0;
}
