namespace TsmLab.Tests.Docs;

/// <summary>
/// Every source tag cited in src/ or docs/ has exactly one row in docs/sources.md, so a reader can follow any
/// citation to the repository + path + commit, spec section or mail it names.
/// </summary>
public sealed class SourceTagTests
{
    private static readonly string Root = FindRepoRoot();
    private static readonly string SourcesPath = Path.Combine(Root, "docs", "sources.md");

    [Fact]
    public void EveryCitedTag_HasARowInSourcesMd()
    {
        var rows = CitationTags.Rows(File.ReadAllText(SourcesPath)).ToHashSet(StringComparer.Ordinal);
        var missing = CitedTags()
            .Where(c => !rows.Contains(c.Tag))
            .GroupBy(c => c.Tag, StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => $"{g.Key}: {string.Join(", ", g.Take(3).Select(c => c.Where))}{(g.Count() > 3 ? ", …" : "")}")
            .ToList();
        Assert.True(missing.Count == 0,
            "tags cited without a row in docs/sources.md:\n" + string.Join("\n", missing));
    }

    [Fact]
    public void NoTag_HasTwoRows()
    {
        var twice = CitationTags.Rows(File.ReadAllText(SourcesPath))
            .GroupBy(t => t, StringComparer.Ordinal)
            .Where(g => g.Count() > 1)
            .Select(g => $"{g.Key} ({g.Count()} rows)")
            .ToList();
        Assert.True(twice.Count == 0, "tags with more than one row in docs/sources.md: " + string.Join(", ", twice));
    }

    [Fact]
    public void TheScan_FindsCitations_AndNothingElse()
    {
        // Real shapes from src/ and docs/ (comments and prose); the scan must see exactly these tags.
        Assert.Equal(["D1", "O1", "T4"], Tags("// DEVICE_INTERFACE_REPORT body [D1,O1,T4] (§5.5):", csharp: true));
        Assert.Equal(["E1", "E2", "E3", "E4"], Tags("Sources: [E1–E4] and", csharp: false));
        Assert.Equal(["D1", "V1", "E1", "E2", "E3", "E4"], Tags("// machine (§5.6) [D1,V1,E1-E4].", csharp: true));
        Assert.Equal(["X1"], Tags("| 4 B [X1, inferred] |", csharp: false));
        Assert.Equal(["D1"], Tags("// one row per request code [D1 §5.3] and", csharp: true));
        Assert.Equal(["DW2", "K5r"], Tags("/// <c>pci_tsm_guest_req</c> (DW2, K5r) with", csharp: true));
        Assert.Equal(["K5r", "KC", "OV", "CC"], Tags("(K5r/KC op-arch; OV/CC payloads)", csharp: false));
        Assert.Equal(["K5"], Tags("| flags ≠ 0 | EOPNOTSUPP | K5 | `Flags_ReturnsEopnotsupp` |", csharp: false));

        // Not citations: C# attributes, indexers, identifiers in code, IDE key sets, types and functions.
        Assert.Empty(Tags("[Fact] [Theory] [Flags] [Size] [InlineData(1, 2)] [MemoryDiagnoser] [GlobalSetup]", csharp: true));
        Assert.Empty(Tags("var x = p[Rmi.Granule..]; (ulong X0, ulong X1) HostCall(ulong A1);", csharp: true));
        Assert.Empty(Tags("// two key sets (K0/K1), PF0 and VF1, U32 reads, P384, [PATCH v5 5/5], gprs[31]", csharp: true));
        Assert.Empty(Tags("not a comment: KC OV A9 K5", csharp: true));
    }

    private static string[] Tags(string text, bool csharp) =>
        CitationTags.Cited(text, csharp).Select(c => c.Tag).ToArray();

    private static IEnumerable<(string Tag, string Where)> CitedTags()
    {
        foreach (var dir in new[] { "src", "docs" })
            foreach (var file in Directory.EnumerateFiles(Path.Combine(Root, dir), "*.*", SearchOption.AllDirectories))
            {
                string rel = Path.GetRelativePath(Root, file).Replace('\\', '/');
                bool csharp = file.EndsWith(".cs", StringComparison.Ordinal);
                if (!csharp && !file.EndsWith(".md", StringComparison.Ordinal)) continue;
                if (rel.Contains("/bin/", StringComparison.Ordinal) || rel.Contains("/obj/", StringComparison.Ordinal)) continue;
                if (rel == "docs/sources.md") continue; // the definitions themselves
                foreach (var (tag, line) in CitationTags.Cited(File.ReadAllText(file), csharp))
                    yield return (tag, $"{rel}:{line}");
            }
    }

    private static string FindRepoRoot()
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d is not null && !File.Exists(Path.Combine(d.FullName, "TsmLab.sln"))) d = d.Parent;
        return d?.FullName ?? throw new InvalidOperationException("TsmLab.sln not found above " + AppContext.BaseDirectory);
    }
}
