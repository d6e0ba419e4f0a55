using TsmLab.Kernel.Tsm;
using TsmLab.Tests.Cli;

namespace TsmLab.Tests.Kernel.Tsm;

public sealed class GuestRequestChecksTests
{
    [Fact]
    public void ErrnoMd_MirrorsTheCheckRows_InOrder()
    {
        string md = File.ReadAllText(Path.Combine(CliRunner.RepoRoot(), "docs", "errno.md"));
        int at = md.IndexOf("### The TSM core's request checks", StringComparison.Ordinal);
        Assert.True(at >= 0, "docs/errno.md lacks the TSM core's request-check table");
        var lines = md[at..].Split('\n').SkipWhile(l => !l.StartsWith("| Stage", StringComparison.Ordinal)).Skip(2)
            .TakeWhile(l => l.StartsWith('|')).ToList();
        var documented = lines.Select(l => l.Split('|', StringSplitOptions.TrimEntries)).Select(c => (c[1], c[2], c[3], c[4])).ToList();
        var code = GuestRequestChecks.Rows.Select(r => (r.Stage.ToString(), r.Refuses, r.Rejection.ToString(), r.Errno.ToString())).ToList();
        Assert.Equal(code, documented);
    }

    [Fact]
    public void Rows_RunInStageOrder_AndEachRejectionAppearsOnce()
    {
        var stages = GuestRequestChecks.Rows.Select(r => (int)r.Stage).ToList();
        Assert.Equal(stages.Order(), stages);
        Assert.Equal(GuestRequestChecks.Rows.Count, GuestRequestChecks.Rows.Select(r => r.Rejection).Distinct().Count());
    }
}
