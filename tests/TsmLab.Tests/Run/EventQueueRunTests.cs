namespace TsmLab.Tests.Run;

/// <summary>iommufd's fault and vEVENTQ fds in a real program under <c>tsmlab run</c>: the program reads the records the model pushes into their placeholders and writes its responses there.</summary>
public class EventQueueRunTests
{
    [RunFact]
    public void FaultAndVeventqFds_AreReadAndWrittenByTheProgram_AndReleasedAtExit()
    {
        string exe = NativeRun.Compile("tests/TsmLab.Tests/Run/Programs/eventq.c");
        var kernel = NativeRun.Boot("selftest");
        var (rc, o, e, _) = NativeRun.Run(kernel, exe);
        Assert.True(rc == 0, o + e);
        Assert.Contains("eventq: ok", o, StringComparison.Ordinal);
        Assert.Empty(kernel.IommufdContexts);
    }
}
