using TsmLab.Tests.Cli;

namespace TsmLab.Tests.Platforms.Cca;

public sealed class CcaReplayExampleTests
{
    [Fact]
    public void ExampleCcaAssign_EveryLineGivesTheResultItsCommentStates_ThroughSetTdiStateRun()
    {
        var (input, answers) = ExampleScript.Check("cca-assign.jsonl", "--host", "cca");
        Assert.True(answers.Count > 50);
        // The SET_TDI_STATE(RUN) line is in the file and answered 0.
        int run = Array.FindIndex(input, l => l.Contains("RMI_VDEV_START", StringComparison.Ordinal));
        Assert.True(run > 0);
        Assert.Equal(0, answers[run + 3].GetProperty("ret").GetInt32());
        Assert.Equal("ioctl", answers[run + 3].GetProperty("op").GetString());
    }
}
