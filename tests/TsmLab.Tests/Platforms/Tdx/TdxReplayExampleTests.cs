using TsmLab.Tests.Cli;

namespace TsmLab.Tests.Platforms.Tdx;

public sealed class TdxReplayExampleTests
{
    [Fact]
    public void ExampleTdxAssign_EveryLineGivesTheResultItsCommentStates()
    {
        var (_, answers) = ExampleScript.Check("tdx-assign.jsonl", "--host", "tdx");
        Assert.True(answers.Count > 50);
        Assert.Contains(answers.Values, a => a.TryGetProperty("errno", out var n) && n.GetString() == "ENXIO");
    }
}
