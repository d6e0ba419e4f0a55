using System.Text;

namespace TsmLab.Input;

/// <summary>
/// Reads lines from a script (a file or standard input) with a cap on each line, so input without
/// newlines (a stream of zero bytes, say) costs at most one line's worth of memory. A line longer
/// than the cap is reported as such and skipped to its end. A UTF-8 byte-order mark before the
/// first line is dropped, whichever way the text was decoded. Lines end at LF; a CR before it is
/// dropped.
/// </summary>
public sealed class BoundedLineReader
{
    /// <summary>The default cap on one line, in characters.</summary>
    public const int DefaultMaxLineLength = 1 << 20;

    private readonly TextReader reader;
    private readonly int maxLineLength;
    private readonly char[] buffer = new char[4096];
    private readonly StringBuilder line = new();
    private int start, end;
    private bool first = true;

    public BoundedLineReader(TextReader reader, int maxLineLength = DefaultMaxLineLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLineLength, 1);
        this.reader = reader;
        this.maxLineLength = maxLineLength;
    }

    public int MaxLineLength => maxLineLength;

    /// <summary>
    /// The next line, or false at the end of the input. <paramref name="tooLong"/> is true (and
    /// <paramref name="text"/> empty) for a line over the cap, which is consumed whole.
    /// </summary>
    public bool TryReadLine(out string text, out bool tooLong)
    {
        line.Clear();
        tooLong = false;
        bool any = false;
        while (true)
        {
            if (start == end)
            {
                start = 0;
                end = reader.Read(buffer, 0, buffer.Length);
                if (end <= 0)
                {
                    end = 0;
                    text = tooLong ? "" : Finish();
                    first = false;
                    return any;
                }
            }
            any = true;
            int nl = Array.IndexOf(buffer, '\n', start, end - start);
            int stop = nl < 0 ? end : nl;
            if (!tooLong)
            {
                if (line.Length + (stop - start) > maxLineLength + 1) // +1: a CR before the LF
                {
                    tooLong = true;
                    line.Clear();
                }
                else line.Append(buffer, start, stop - start);
            }
            start = nl < 0 ? end : nl + 1;
            if (nl >= 0)
            {
                text = tooLong ? "" : Finish();
                first = false;
                if (!tooLong && text.Length > maxLineLength) { tooLong = true; text = ""; }
                return true;
            }
        }
    }

    private string Finish()
    {
        if (line.Length > 0 && line[^1] == '\r') line.Length--;
        if (first && line.Length > 0 && line[0] == '\uFEFF') line.Remove(0, 1);
        first = false;
        return line.ToString();
    }
}
