using System.Reflection;
using System.Text.RegularExpressions;

namespace TsmLab.Tests.Docs;

/// <summary>
/// docs/errno.md's "IOAS mapping, options and hardware information" section: every row names at
/// least one test as <c>Class.Method</c>, and every test it names exists, so the table and the
/// tests cannot drift apart.
/// </summary>
public sealed partial class IoasDocTests
{
    [Fact]
    public void EveryRow_NamesTests_ThatExist()
    {
        string doc = File.ReadAllText(Path.Combine(RepoRoot(), "docs", "errno.md"));
        int start = doc.IndexOf("## IOAS mapping, options and hardware information", StringComparison.Ordinal);
        Assert.True(start >= 0, "section missing");
        int end = doc.IndexOf("\n## ", start + 10, StringComparison.Ordinal);
        var rows = doc[start..end].Split('\n').Where(l => l.StartsWith("| IOMMU_", StringComparison.Ordinal) || l.StartsWith("| VFIO_", StringComparison.Ordinal)).ToList();
        Assert.True(rows.Count > 50, $"only {rows.Count} rows");
        var methods = typeof(IoasDocTests).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly).Select(m => $"{t.Name}.{m.Name}"))
            .ToHashSet(StringComparer.Ordinal);
        var missing = new List<string>();
        foreach (var row in rows)
        {
            var named = TestName().Matches(row.Split('|')[^2]).Select(m => m.Groups[1].Value).ToList();
            if (named.Count == 0) missing.Add("row without a test: " + row);
            missing.AddRange(named.Where(n => !methods.Contains(n)).Select(n => "no such test: " + n));
        }
        Assert.True(missing.Count == 0, string.Join("\n", missing));
    }

    [GeneratedRegex(@"`(\w+\.\w+)`")]
    private static partial Regex TestName();

    private static string RepoRoot()
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d is not null && !File.Exists(Path.Combine(d.FullName, "TsmLab.sln"))) d = d.Parent;
        return d?.FullName ?? throw new InvalidOperationException("repository root not found");
    }
}
