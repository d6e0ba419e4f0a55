using System.Text.Json;
using TsmLab.Tests.Cli;

namespace TsmLab.Tests.Platforms.SevTio;

public sealed class SevReplayExampleTests
{
    [Fact]
    public void ExampleSevAssign_EveryLineGivesTheResultItsCommentStates()
    {
        string path = Path.Combine(CliRunner.RepoRoot(), "examples", "sev-assign.jsonl");
        var input = File.ReadAllLines(path);
        var (rc, o, e) = CliRunner.Run("", "replay", "--host", "sev", path);
        Assert.True(rc == 0, e);
        var answers = o.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonDocument.Parse(l).RootElement).ToDictionary(a => a.GetProperty("line").GetInt32());
        int checkedLines = 0;
        for (int i = 0; i < input.Length; i++)
        {
            if (!input[i].StartsWith("# expect ", StringComparison.Ordinal)) continue;
            using var expected = JsonDocument.Parse(input[i]["# expect ".Length..]);
            var actual = answers[i + 2];
            foreach (var p in expected.RootElement.EnumerateObject())
                Assert.True(actual.TryGetProperty(p.Name, out var v) && v.GetRawText() == p.Value.GetRawText(),
                    $"line {i + 2}: expected {p.Name}={p.Value.GetRawText()}, got {actual.GetRawText()}");
            checkedLines++;
        }
        Assert.Equal(answers.Count, checkedLines);
        Assert.True(checkedLines > 60);
        Assert.Contains(answers.Values, a => a.TryGetProperty("errno", out var n) && n.GetString() == "EIO");
    }
}
