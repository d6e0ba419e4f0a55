using TsmLab.Fuzz;
using TsmLab.Tests.Cli;

namespace TsmLab.Tests.Fuzz;

/// <summary>
/// Replays every checked-in fuzz input — the seed corpora (fuzz/corpus/TARGET/) and every minimised
/// crash (fuzz/crashes/TARGET/) — through the same target functions AFL++ drives. A finding fixed
/// stays fixed; each target's inputs must finish within a time bound.
/// </summary>
public class FuzzCorpusTests
{
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(20);

    public static TheoryData<string> Targets()
    {
        var d = new TheoryData<string>();
        foreach (var t in FuzzTargets.All) d.Add(t.Name);
        return d;
    }

    private static IEnumerable<string> Inputs(string target) =>
        new[] { "corpus", "crashes" }
            .Select(kind => Path.Combine(CliRunner.RepoRoot(), "fuzz", kind, target))
            .Where(Directory.Exists)
            .SelectMany(Directory.EnumerateFiles)
            .Where(f => !Path.GetFileName(f).StartsWith('.') && !f.EndsWith(".md", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal);

    [Theory]
    [MemberData(nameof(Targets))]
    public async Task EveryCheckedInInput_RunsThroughItsTargetWithoutAFinding(string target)
    {
        var run = FuzzTargets.Find(target)!;
        var inputs = Inputs(target).ToList();
        Assert.NotEmpty(inputs);
        var task = Task.Run(() =>
        {
            foreach (var path in inputs)
            {
                var data = File.ReadAllBytes(path);
                try
                {
                    run(data.Length > FuzzTargets.MaxInput ? data[..FuzzTargets.MaxInput] : data);
                }
                catch (Exception e)
                {
                    throw new Xunit.Sdk.XunitException($"{target} input {Path.GetRelativePath(CliRunner.RepoRoot(), path)}: {e}");
                }
            }
        });
        var first = await Task.WhenAny(task, Task.Delay(Budget));
        Assert.True(first == task, $"{target}: {inputs.Count} inputs did not finish within {Budget.TotalSeconds} s (a hang?)");
        await task;
    }

    [Fact]
    public void EveryTarget_HasASeedCorpus()
    {
        foreach (var t in FuzzTargets.All)
            Assert.True(Directory.Exists(Path.Combine(CliRunner.RepoRoot(), "fuzz", "corpus", t.Name)), $"fuzz/corpus/{t.Name} is missing");
    }
}
