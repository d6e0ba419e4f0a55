namespace TsmLab.Kernel.Iommufd;

/// <summary>
/// One mapping of an IOAS (<c>struct iopt_area</c>, drivers/iommu/iommufd/io_pagetable.h [LI4]):
/// IOVA [<see cref="Iova"/>, <see cref="Last"/>] onto bytes from <see cref="StartByte"/> of its
/// <see cref="Pages"/>, with the DMA permissions it was mapped with. One object per IOAS_MAP, MAP_FILE
/// or COPY piece however long: a VMM's GiBs of guest RAM are one area, never per-page objects.
/// </summary>
public sealed class IoptArea
{
    internal IoptArea(ulong iova, ulong last, IoptPages pages, ulong startByte, bool readable, bool writable)
    {
        Iova = iova;
        Last = last;
        Pages = pages;
        StartByte = startByte;
        Readable = readable;
        Writable = writable;
    }

    /// <summary>First IOVA.</summary>
    public ulong Iova { get; }
    /// <summary>Last IOVA (inclusive).</summary>
    public ulong Last { get; }
    public IoptPages Pages { get; }
    /// <summary>Offset of <see cref="Iova"/>'s byte from the start of <see cref="Pages"/>' first page.</summary>
    public ulong StartByte { get; }
    /// <summary>IOMMU_READ: the device may read.</summary>
    public bool Readable { get; }
    /// <summary>IOMMU_WRITE: the device may write.</summary>
    public bool Writable { get; }
    public ulong Length => Last - Iova + 1;
    /// <summary>First page index of <see cref="Pages"/> this area covers.</summary>
    public ulong FirstIndex => StartByte >> AddressSpace.PageShift;
    /// <summary>Last page index of <see cref="Pages"/> this area covers.</summary>
    public ulong LastIndex => (StartByte + Length - 1) >> AddressSpace.PageShift;
    /// <summary>True while its pages are pinned for the IOAS's domains (guarded by the io_pagetable's lock).</summary>
    internal bool Filled { get; set; }
    /// <summary><c>num_accesses</c>: access pins over this area; while above 0 an unmap first asks the accesses to let go. Guarded by the io_pagetable's lock.</summary>
    internal int AccessPins { get; set; }
    /// <summary><c>num_locks</c>: pins of an internal access (a HW queue's) over this area; while above 0 an unmap is EBUSY. Guarded by the io_pagetable's lock.</summary>
    internal int Locks { get; set; }
    /// <summary><c>prevent_access</c>: an unmap is waiting for the accesses to let go; new access pins and reads/writes are EINVAL, splits EBUSY. Guarded by the io_pagetable's lock.</summary>
    internal bool PreventAccess { get; set; }

    /// <summary>The byte of <see cref="Pages"/> at <paramref name="iova"/> (<c>iopt_area_start_byte</c>).</summary>
    public ulong StartByteAt(ulong iova) => StartByte + (iova - Iova);
}
