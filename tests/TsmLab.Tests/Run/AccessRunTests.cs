namespace TsmLab.Tests.Run;

/// <summary>The mock driver's access fd in a real program under <c>tsmlab run</c>: installed by ADDFD, found again by the ACCESS ops, released at its close.</summary>
public class AccessRunTests
{
    [RunFact]
    public void AccessFd_IsInstalledInTheProgram_UsedByTheAccessOps_AndReleasedAtItsClose()
    {
        string exe = NativeRun.Compile("tests/TsmLab.Tests/Run/Programs/access.c");
        var kernel = NativeRun.Boot("selftest");
        var (rc, o, e, stats) = NativeRun.Run(kernel, exe);
        Assert.True(rc == 0, o + e);
        Assert.Contains("access: ok", o, StringComparison.Ordinal);
        // The access file and the iommufd were both released (the access held the iommufd).
        Assert.Equal(2, stats.Released);
        Assert.Empty(kernel.IommufdContexts);
    }
}
