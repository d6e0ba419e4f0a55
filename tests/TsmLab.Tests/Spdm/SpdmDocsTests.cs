using System.Reflection;
using System.Text.RegularExpressions;
using TsmLab.Tests.Cli;

namespace TsmLab.Tests.Spdm;

/// <summary>docs/spdm.md's ERROR table names a test in every row, and each named test exists.</summary>
public sealed partial class SpdmDocsTests
{
    [GeneratedRegex(@"`(?<cls>[A-Za-z0-9]+Tests)\.(?<method>[A-Za-z0-9_]+)`|`…(?<short>[A-Za-z0-9_]+)`")]
    private static partial Regex TestName();

    [Fact]
    public void EveryErrorRow_NamesATestThatExists()
    {
        var doc = File.ReadAllText(Path.Combine(CliRunner.RepoRoot(), "docs", "spdm.md"));
        int start = doc.IndexOf("## ERROR answers", StringComparison.Ordinal);
        int end = doc.IndexOf("\n## ", start + 1, StringComparison.Ordinal);
        var rows = doc[start..end].Split('\n').Where(l => l.StartsWith("| ", StringComparison.Ordinal) && !l.StartsWith("| Situation", StringComparison.Ordinal)).ToList();
        Assert.True(rows.Count >= 30, $"only {rows.Count} rows");
        var methods = typeof(SpdmDocsTests).Assembly.GetTypes()
            .Where(t => t.Namespace == typeof(SpdmDocsTests).Namespace)
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Instance).Select(m => (t.Name, m.Name)))
            .ToHashSet();
        foreach (var row in rows)
        {
            var names = TestName().Matches(row);
            Assert.True(names.Count > 0, $"row without a test: {row}");
            foreach (Match m in names)
            {
                bool found = m.Groups["short"].Success
                    ? methods.Any(x => x.Item2 == m.Groups["short"].Value)
                    : methods.Contains((m.Groups["cls"].Value, m.Groups["method"].Value));
                Assert.True(found, $"docs/spdm.md names a test that does not exist: {m.Value}");
            }
        }
    }
}
