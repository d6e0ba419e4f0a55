using System.Text.Json;

namespace TsmLab.Tests.Cli;

/// <summary>
/// Runs an examples/*.jsonl script through <c>tsmlab replay</c> and checks that every op line
/// answers what the <c># expect {…}</c> comment just before it states (each expected key, by value).
/// </summary>
internal static class ExampleScript
{
    /// <summary>Returns the input lines and the answers by line number, after checking every expectation.</summary>
    public static (string[] Input, Dictionary<int, JsonElement> Answers) Check(string file, params string[] replayArgs)
    {
        string path = Path.Combine(CliRunner.RepoRoot(), "examples", file);
        var input = File.ReadAllLines(path);
        var (rc, o, e) = CliRunner.Run("", ["replay", path, .. replayArgs]);
        Assert.True(rc == 0, e);
        var answers = o.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonDocument.Parse(l).RootElement.Clone())
            .ToDictionary(a => a.GetProperty("line").GetInt32());
        int checkedLines = 0;
        for (int i = 0; i < input.Length; i++)
        {
            if (!input[i].StartsWith("# expect ", StringComparison.Ordinal)) continue;
            using var expected = JsonDocument.Parse(input[i]["# expect ".Length..]);
            Assert.True(input[i + 1].StartsWith('{'), $"line {i + 2}: an expect comment must stand right before its op line");
            var actual = answers[i + 2];
            foreach (var p in expected.RootElement.EnumerateObject())
                Assert.True(actual.TryGetProperty(p.Name, out var v) && v.GetRawText() == p.Value.GetRawText(),
                    $"{file} line {i + 2}: expected {p.Name}={p.Value.GetRawText()}, got {actual.GetRawText()}");
            checkedLines++;
        }
        Assert.Equal(answers.Count, checkedLines);
        return (input, answers);
    }
}
