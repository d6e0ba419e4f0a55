using System.Text.RegularExpressions;

namespace TsmLab.Tests.Docs;

/// <summary>
/// Finds the source tags that src/ and docs/ cite, and the tags docs/sources.md defines.
/// A citation is either a bracketed list — <c>[D1]</c>, <c>[A7,A11,R1]</c>, <c>[E1–E4]</c>, <c>[X1, inferred]</c>,
/// <c>[D1 §5.3]</c>, each tag one or two capitals, digits and an optional lowercase letter — or one of the bare
/// tags written without brackets (the linux-uapi.md family: <c>K5</c>, <c>K5r</c>, <c>KC</c>, <c>OV</c>, <c>CC</c>,
/// <c>DW2</c>, and Arm tags such as <c>A9</c>). C# attributes (<c>[Fact]</c>, <c>[Flags]</c>, <c>[InlineData(…)]</c>)
/// and indexers never match: a tag needs digits right after its capitals, or is one of the bare names.
/// </summary>
internal static partial class CitationTags
{
    private const string Tag = @"[A-Z]{1,2}[0-9]+[a-z]?";
    private const string Item = Tag + @"(?:\s*[-–]\s*" + Tag + ")?";

    /// <summary>A bracketed citation: a comma list of tags or tag ranges, optionally "…, inferred" or " §5.3".</summary>
    [GeneratedRegex(@"\[(?<list>" + Item + @"(?:\s*,\s*" + Item + @")*)(?:\s*,\s*[a-z][a-z ]*|\s+§\s*[0-9.]+)?\]")]
    private static partial Regex BracketedList();

    /// <summary>Tags written bare: Aneesh's iommufd series (K1, K2, K5, K5r), the kamalca tree (KC), OpenVMM (OV),
    /// the CCA backend code (CC), Dan Williams' PCI/TSM patches (DW2, DW3) and Arm CCA sources (A9).</summary>
    [GeneratedRegex(@"\b(?:K[0-9]+r?|KC|OV|CC|DW[0-9]+|A[0-9]+)\b")]
    private static partial Regex BareTag();

    /// <summary>Names that look like bare tags but are not citations: the IDE key sets K0/K1.</summary>
    [GeneratedRegex(@"\bK0/K1\b")]
    private static partial Regex NotATag();

    [GeneratedRegex("^" + Tag + "$")]
    private static partial Regex SingleTag();

    [GeneratedRegex(@"^(?<prefix>[A-Z]{1,2})(?<from>[0-9]+)\s*[-–]\s*\k<prefix>(?<to>[0-9]+)$")]
    private static partial Regex Range();

    /// <summary>A row of docs/sources.md: a table line whose first cell is a tag.</summary>
    [GeneratedRegex(@"^\|\s*(?<tag>[A-Z]{1,2}(?:[0-9]+[a-z]?)?)\s*\|")]
    private static partial Regex SourceRow();

    /// <summary>Every tag cited in <paramref name="text"/>, with its 1-based line. In C# only comments are read for
    /// bare tags, so identifiers such as <c>X1</c> or <c>A1</c> in code are never taken for citations.</summary>
    public static IEnumerable<(string Tag, int Line)> Cited(string text, bool csharp)
    {
        var lines = text.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i];
            foreach (Match m in BracketedList().Matches(line))
                foreach (var item in m.Groups["list"].Value.Split(','))
                    foreach (var tag in Expand(item.Trim()))
                        yield return (tag, i + 1);

            string prose = line;
            if (csharp)
            {
                int comment = prose.IndexOf("//", StringComparison.Ordinal);
                if (comment < 0) continue;
                prose = prose[comment..];
            }
            prose = BracketedList().Replace(prose, " ");
            prose = NotATag().Replace(prose, " ");
            foreach (Match m in BareTag().Matches(prose))
                yield return (m.Value, i + 1);
        }
    }

    /// <summary>The tags docs/sources.md has a row for, in order, duplicates kept.</summary>
    public static IEnumerable<string> Rows(string sourcesMarkdown) =>
        sourcesMarkdown.Split('\n')
            .Select(l => SourceRow().Match(l.TrimEnd('\r')))
            .Where(m => m.Success)
            .Select(m => m.Groups["tag"].Value);

    private static IEnumerable<string> Expand(string item)
    {
        if (SingleTag().IsMatch(item)) return [item];
        var r = Range().Match(item);
        if (!r.Success) throw new FormatException($"'{item}' is a tag range with two prefixes");
        int from = int.Parse(r.Groups["from"].Value), to = int.Parse(r.Groups["to"].Value);
        if (to < from || to - from > 20) throw new FormatException($"'{item}' is not an ascending tag range");
        return Enumerable.Range(from, to - from + 1).Select(n => r.Groups["prefix"].Value + n);
    }
}
