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
    private readonly Dictionary<ulong, RmpEntry> entries = [];

    /// <summary>The entry of the page holding <paramref name="spa"/> (a hypervisor-owned page when never touched).</summary>
    public RmpEntry Lookup(ulong spa) => entries.GetValueOrDefault(spa >> 12);

    /// <summary>
    /// RMPUPDATE (hypervisor): assigns the page to <paramref name="asid"/> at guest page
    /// <paramref name="guestPage"/> (or returns it to the hypervisor with asid 0). Validated is
    /// always cleared.
    /// </summary>
    public void Update(ulong spa, uint asid, ulong guestPage, bool mmio)
    {
        if (asid == 0) entries.Remove(spa >> 12);
        else entries[spa >> 12] = new RmpEntry(true, asid, guestPage, false, mmio);
    }

    /// <summary>The firmware sets or clears Validated on an assigned page.</summary>
    internal void SetValidated(ulong spa, bool validated)
    {
        if (entries.TryGetValue(spa >> 12, out var e) && e.Assigned)
            entries[spa >> 12] = e with { Validated = validated };
    }

    /// <summary>Validated pages of a guest (for checks).</summary>
    public int CountValidated(uint asid) => entries.Values.Count(e => e.Assigned && e.Asid == asid && e.Validated);

    /// <summary>The firmware clears Validated on every MMIO page of a guest in [spa, spa + bytes) (unbind).</summary>
    internal void InvalidateMmio(uint asid, ulong spa, ulong bytes)
    {
        for (ulong p = spa >> 12; p < (spa + bytes + 0xFFF) >> 12; p++)
            if (entries.TryGetValue(p, out var e) && e.Asid == asid && e.Mmio)
                entries[p] = e with { Validated = false };
    }
}
