namespace TsmLab.Platforms.SevTio.Firmware;

/// <summary>One RMP entry: assigned, owner ASID, guest page number, validated, MMIO.</summary>
/// <remarks>
/// The Reverse Map Table (AMD APM vol. 2, SEV-SNP): one entry per 4 KiB system physical page saying
/// whether it is assigned to a guest (ASID), at which GPA, whether the guest's view of it is
/// validated, and (SEV-TIO) whether it is device MMIO. The hypervisor changes entries with
/// RMPUPDATE, which always clears Validated; only the firmware (MMIO_VALIDATE) sets Validated on
/// MMIO pages. The model keeps only the pages anyone touched.
/// </remarks>
public readonly record struct RmpEntry(bool Assigned, uint Asid, ulong GuestPage, bool Validated, bool Mmio);

/// <summary>The RMP of one machine.</summary>
public sealed class Rmp
{
    /// <summary>The entries of the pages anyone touched, by SPA, in blocks of 512 (2 MiB) as the RMP's segments.</summary>
    private readonly Hardware.SparsePageMap<RmpEntry> entries = new();

    /// <summary>The entry of the page holding <paramref name="spa"/> (a hypervisor-owned page when never touched).</summary>
    public RmpEntry Lookup(ulong spa) => entries.TryGetValue(spa, out var e) ? e : default;

    /// <summary>
    /// RMPUPDATE (hypervisor): assigns the page to <paramref name="asid"/> at guest page
    /// <paramref name="guestPage"/> (or returns it to the hypervisor with asid 0). Validated is
    /// always cleared.
    /// </summary>
    public void Update(ulong spa, uint asid, ulong guestPage, bool mmio)
    {
        if (asid == 0) entries.Remove(spa);
        else entries.Set(spa, new RmpEntry(true, asid, guestPage, false, mmio));
    }

    /// <summary>The firmware sets or clears Validated on an assigned page.</summary>
    internal void SetValidated(ulong spa, bool validated)
    {
        if (entries.TryGetValue(spa, out var e) && e.Assigned)
            entries.Set(spa, e with { Validated = validated });
    }

    /// <summary>Validated pages of a guest (for checks).</summary>
    public int CountValidated(uint asid) => entries.Entries().Count(e => e.Value.Assigned && e.Value.Asid == asid && e.Value.Validated);

    /// <summary>The firmware clears Validated on every MMIO page of a guest in [spa, spa + bytes) (unbind).</summary>
    internal void InvalidateMmio(uint asid, ulong spa, ulong bytes)
    {
        for (ulong p = spa >> 12; p < (spa + bytes + 0xFFF) >> 12; p++)
            if (entries.TryGetValue(p << 12, out var e) && e.Asid == asid && e.Mmio)
                entries.Set(p << 12, e with { Validated = false });
    }
}
