using TsmLab.Kernel;

namespace TsmLab.Tests.Run;

/// <summary>
/// Issue 13 §5: a program that passes garbage, races close, forks, execs or is killed mid-ioctl
/// never crashes or wedges the supervisor, and leaves the model consistent: every file released,
/// no iommufd context, no VM, no VFIO device open, no TDI bound.
/// </summary>
public class RunFaultTests
{
    [RunTheory]
    [InlineData("garbage")]
    [InlineData("race-close")]
    [InlineData("fork")]
    [InlineData("exec")]
    public void Misuse_GetsKernelAnswers_AndLeavesTheModelReleased(string mode)
    {
        string exe = NativeRun.Compile("tests/TsmLab.Tests/Run/Programs/faults.c");
        var kernel = NativeRun.Boot("sev");
        var (rc, o, e, stats) = NativeRun.Run(kernel, exe, mode);
        Assert.True(rc == 0, o + e);
        Assert.Contains("result ok", o, StringComparison.Ordinal);
        Assert.Equal(0, stats.Dropped);
        AssertReleased(kernel);
    }

    [RunFact]
    public void DupDup2Dup3AndFDupfd_AllReachOneFile_ReleasedAtTheLastClose()
    {
        string exe = NativeRun.Compile("tests/TsmLab.Tests/Run/Programs/faults.c");
        var kernel = NativeRun.Boot("default");
        var (rc, o, e, stats) = NativeRun.Run(kernel, exe, "dup");
        Assert.True(rc == 0, o + e);
        Assert.Contains("dup: copy 1 (fd 100) IOAS_ALLOC -> ok id 2", o, StringComparison.Ordinal);
        Assert.Contains("dup: copy 3 (fd 200) IOAS_ALLOC -> ok id 4", o, StringComparison.Ordinal);
        Assert.Equal(1, stats.Released);
        AssertReleased(kernel);
    }

    [RunFact]
    public void ProgramKilledWhileItsThreadsAreInIoctls_LeavesNoTdiBoundAndNothingOpen()
    {
        string exe = NativeRun.Compile("tests/TsmLab.Tests/Run/Programs/faults.c");
        var kernel = NativeRun.Boot("sev");
        var (rc, o, e, stats) = NativeRun.Run(kernel, exe, "killed");
        Assert.True(rc == 137, $"exit {rc}: {o}{e}");
        Assert.Contains("killed: bind ok", o, StringComparison.Ordinal);
        // 12 calls set the TDI up and bind it; the request threads were in their loop when killed.
        Assert.True(stats.Emulated > 12, $"only {stats.Emulated} calls served before the kill");
        AssertReleased(kernel);
    }

    [RunFact]
    public void Exec_ReleasesTheCloexecFileAtExec_AndTheOtherAtExit()
    {
        string exe = NativeRun.Compile("tests/TsmLab.Tests/Run/Programs/faults.c");
        var kernel = NativeRun.Boot("default");
        var (rc, o, e, stats) = NativeRun.Run(kernel, exe, "exec");
        Assert.True(rc == 0, o + e);
        Assert.Contains("exec: inherited iommufd ok; O_CLOEXEC kvm fd EBADF", o, StringComparison.Ordinal);
        Assert.Equal(2, stats.Released);
        AssertReleased(kernel);
    }

    private static void AssertReleased(HostKernel kernel)
    {
        Assert.Empty(kernel.IommufdContexts);
        Assert.Empty(kernel.Vms);
        Assert.All(kernel.VfioDevices, d => Assert.Equal(0, d.OpenCount));
        Assert.All(kernel.Functions, f => Assert.Null(f.Tdi));
    }
}
