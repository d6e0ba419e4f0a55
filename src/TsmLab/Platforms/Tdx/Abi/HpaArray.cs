namespace TsmLab.Platforms.Tdx.Abi;

/// <summary>
/// HPA_ARRAY_T, the page-list operand of the TDX Connect leaves [TX5]: a u64 with the PFN in
/// bits 51:12 and (number of entries − 1) in bits 63:55. With one entry the PFN is the page
/// itself; with more it names a page holding that many u64 page addresses (TsmLab reading of
/// the Linux wrappers' root-page form [TX5, inferred]). Bits 11:0 and 54:52 must be zero.
/// </summary>
public static class HpaArray
{
    public const int MaxEntries = 512;
    private const ulong PfnMask = 0x000F_FFFF_FFFF_F000;

    /// <summary>Encodes a page address (the page itself, or the list page) and an entry count 1..512.</summary>
    public static ulong Encode(ulong pa, int entries)
    {
        if (entries is < 1 or > MaxEntries) throw new ArgumentOutOfRangeException(nameof(entries));
        return (pa & PfnMask) | ((ulong)(entries - 1) << 55);
    }

    /// <summary>The number of entries (1..512).</summary>
    public static int Entries(ulong value) => (int)(value >> 55) + 1;

    /// <summary>The page address in bits 51:12.</summary>
    public static ulong Address(ulong value) => value & PfnMask;

    /// <summary>True when the reserved bits (11:0, 54:52) are zero.</summary>
    public static bool IsWellFormed(ulong value) => (value & ~(PfnMask | (0x1FFul << 55))) == 0;
}
