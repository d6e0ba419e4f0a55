namespace TsmLab.Input;

/// <summary>
/// Arithmetic where an offset, length or count from outside meets another: every sum and product
/// is checked, so a value near 2^64 is refused instead of wrapping into a small, plausible one.
/// </summary>
public static class CheckedRange
{
    /// <summary>True when <c>[offset, offset + length)</c> lies inside <c>[0, size)</c>.</summary>
    public static bool Fits(ulong offset, ulong length, ulong size) => length <= size && offset <= size - length;

    /// <summary><paramref name="start"/> + <paramref name="count"/> × <paramref name="stride"/>, or false when it passes 2^64.</summary>
    public static bool TryEnd(ulong start, ulong count, ulong stride, out ulong end)
    {
        end = 0;
        if (stride != 0 && count > ulong.MaxValue / stride) return false;
        ulong span = count * stride;
        if (start > ulong.MaxValue - span) return false;
        end = start + span;
        return true;
    }

    /// <summary>The last byte of <c>[start, start + length)</c> (length ≥ 1), or false when it passes 2^64 − 1.</summary>
    public static bool TryLast(ulong start, ulong length, out ulong last)
    {
        last = 0;
        if (length == 0 || start > ulong.MaxValue - (length - 1)) return false;
        last = start + (length - 1);
        return true;
    }
}
