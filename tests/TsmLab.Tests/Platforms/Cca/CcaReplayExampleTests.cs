using System.Text.Json;
using TsmLab.Tests.Cli;

namespace TsmLab.Tests.Platforms.Cca;

public sealed class CcaReplayExampleTests
{
    [Fact]
    public void ExampleCcaAssign_EveryLineGivesTheResultItsCommentStates_ThroughSetTdiStateRun()
    {
        string path = Path.Combine(CliRunner.RepoRoot(), "examples", "cca-assign.jsonl");
        var input = File.ReadAllLines(path);
        var (rc, o, e) = CliRunner.Run("", "replay", "--host", "cca", path);
        Assert.True(rc == 0, e);
        var answers = o.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonDocument.Parse(l).RootElement.Clone())
            .ToDictionary(a => a.GetProperty("line").GetInt32());
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
        Assert.True(checkedLines > 50);
        // The SET_TDI_STATE(RUN) line is in the file and answered 0.
        int run = Array.FindIndex(input, l => l.Contains("RMI_VDEV_START", StringComparison.Ordinal));
        Assert.True(run > 0);
        Assert.Equal(0, answers[run + 3].GetProperty("ret").GetInt32());
        Assert.Equal("ioctl", answers[run + 3].GetProperty("op").GetString());
    }
}
