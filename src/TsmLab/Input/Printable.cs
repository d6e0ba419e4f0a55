using System.Globalization;
using System.Text;

namespace TsmLab.Input;

/// <summary>
/// Text from outside made safe to print on a terminal: control characters (C0, DEL, C1), line and
/// paragraph separators, bidirectional overrides and lone surrogates become <c>\xNN</c> /
/// <c>\uNNNN</c> escapes, and long text is cut with "…". Used wherever a message echoes input.
/// </summary>
public static class Printable
{
    /// <summary>The longest echo of one input value in a message.</summary>
    public const int MaxLength = 200;

    /// <summary>True when <paramref name="c"/> would be printed as an escape.</summary>
    public static bool NeedsEscape(char c) =>
        char.IsControl(c) || char.IsSurrogate(c) || c is '\u2028' or '\u2029' or '\u061C' or '\u200E' or '\u200F' or '\uFEFF' ||
        c is >= '\u202A' and <= '\u202E' || c is >= '\u2066' and <= '\u2069';

    /// <summary>The text with every character that <see cref="NeedsEscape"/> escaped, at most <see cref="MaxLength"/> characters of input.</summary>
    public static string Of(string text)
    {
        bool clean = text.Length <= MaxLength;
        for (int i = 0; clean && i < text.Length; i++)
            if (NeedsEscape(text[i]) && !IsPair(text, i)) clean = false;
        if (clean) return text;
        var sb = new StringBuilder(Math.Min(text.Length, MaxLength) + 16);
        for (int i = 0; i < text.Length && i < MaxLength; i++)
        {
            char c = text[i];
            if (IsPair(text, i)) { sb.Append(c).Append(text[++i]); continue; }
            if (!NeedsEscape(c)) sb.Append(c);
            else if (c < 0x100) sb.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
            else sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
        }
        if (text.Length > MaxLength) sb.Append('…');
        return sb.ToString();
    }

    /// <summary>True when <paramref name="text"/> has no character that <see cref="NeedsEscape"/> (a surrogate pair is fine).</summary>
    public static bool IsClean(string text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            if (IsPair(text, i)) { i++; continue; }
            if (NeedsEscape(text[i])) return false;
        }
        return true;
    }

    private static bool IsPair(string s, int i) => char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]);
}
