using TsmLab.Tests.Cli;

namespace TsmLab.Tests.Platforms.SevTio;

public sealed class SevReplayExampleTests
{
    [Fact]
    public void ExampleSevAssign_EveryLineGivesTheResultItsCommentStates()
    {
        var (_, answers) = ExampleScript.Check("sev-assign.jsonl", "--host", "sev");
        Assert.True(answers.Count > 60);
        Assert.Contains(answers.Values, a => a.TryGetProperty("errno", out var n) && n.GetString() == "EIO");
    }
}
