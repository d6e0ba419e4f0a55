using System.Text.Json;
using TsmLab.Tests.Cli;

namespace TsmLab.Tests.Run;

/// <summary>`tsmlab run` with real C programs: the golden comparison with replay, the C VMM, the errno program, exit codes.</summary>
public class RunCommandTests
{
    [RunTheory]
    [InlineData("default", "examples/assign.jsonl")]
    [InlineData("cca", "examples/cca-assign.jsonl")]
    [InlineData("sev", "examples/sev-assign.jsonl")]
    [InlineData("tdx", "examples/tdx-assign.jsonl")]
    public void Golden_CProgramDoingTheExampleCalls_AnswersLikeReplayLineByLine(string host, string example)
    {
        string exe = NativeRun.Compile("examples/c/jsonl-calls.c");
        string script = Path.Combine(CliRunner.RepoRoot(), example);
        var replay = CliRunner.Run("", "replay", "--host", host, script);
        Assert.Equal(0, replay.Exit);
        var run = CliRunner.Run("", "run", "--host", host, "--", exe, script);
        Assert.True(run.Exit == 0, run.Err);
        string[] want = Lines(replay.Out), got = Lines(run.Out);
        Assert.True(want.Length > 20);
        for (int i = 0; i < Math.Max(want.Length, got.Length); i++)
            Assert.Equal(i < want.Length ? want[i] : "(none)", i < got.Length ? got[i] : "(none)");
    }

    [RunTheory]
    [InlineData("cca")]
    [InlineData("sev")]
    [InlineData("tdx")]
    public void Assign_ReproducesTheDemosVmmSteps_ThenBindsRunsAndUnbinds(string host)
    {
        string exe = NativeRun.Compile("examples/c/assign.c");
        var run = CliRunner.Run("", "run", "--host", host, "--", exe);
        if (host == "cca" && !NativeRun.CanLockMemory((16ul << 20) + (1ul << 30)))
        {
            // Without CAP_IPC_LOCK and with a hard RLIMIT_MEMLOCK below the realm's 16 MiB of RAM,
            // the pin fails as on Linux: the HWPT that joins the IOAS holding the RAM is ENOMEM.
            Assert.Contains("FAIL IOMMU_HWPT_ALLOC(NEST_PARENT) -> ENOMEM", run.Out, StringComparison.Ordinal);
            return;
        }
        Assert.True(run.Exit == 0, run.Out + run.Err);
        var steps = Lines(run.Out).Where(l => l.StartsWith("ok ", StringComparison.Ordinal) || l.StartsWith("FAIL", StringComparison.Ordinal)).ToList();
        Assert.DoesNotContain(steps, l => l.StartsWith("FAIL", StringComparison.Ordinal));

        var demo = CliRunner.Run("", "demo", "--platform", host, "--json");
        using var doc = JsonDocument.Parse(demo.Out);
        var vmmSteps = doc.RootElement.GetProperty("platforms")[0].GetProperty("steps").EnumerateArray()
            .Where(s => s.GetProperty("layer").GetString() == "vmm")
            .Select(s => s.GetProperty("detail").GetString() is { Length: > 0 } d ? $"{s.GetProperty("name").GetString()} -> {d}" : s.GetProperty("name").GetString())
            .ToList();
        Assert.Equal(14, vmmSteps.Count);
        Assert.Equal(vmmSteps, steps.Take(14).Select(l => l[5..]));
        if (host == "tdx")
            Assert.Contains("note TDX: RUN needs the TD's own TDG.TDI.START first", run.Out, StringComparison.Ordinal); // a VMM alone cannot start a TDX TDI
        else
            Assert.Contains(steps, l => l.Contains("IOMMU_VDEVICE_TSM_INFO -> tsm=tsm0", StringComparison.Ordinal) && l.Contains("state=Run bound=True", StringComparison.Ordinal));
        Assert.Equal("IOMMU_VDEVICE_TSM_INFO", steps[^6][5..].Split(" -> ")[0]);
        Assert.Contains("state=ConfigUnlocked bound=False", steps[^6], StringComparison.Ordinal);
        Assert.EndsWith("assigned: 0 step(s) failed", run.Out.TrimEnd(), StringComparison.Ordinal);
    }

    [RunTheory]
    [InlineData("sev", "type=4 data_len=16", "num_iovas=3 alignment=0x1000 [0x0, 0xfedfffff] [0xfef00000, 0xfcffffffff] [0x10000000000, 0xffffffffffff]")]
    [InlineData("cca", "type=2 data_len=40", "num_iovas=2 alignment=0x1000 [0x0, 0x7ffffff] [0x8100000, 0xffffffffffff]")]
    [InlineData("tdx", "type=1 data_len=24", "num_iovas=2 alignment=0x1000 [0x0, 0xfedfffff] [0xfef00000, 0xffffffffffff]")]
    public void Ioas_GuestRamMappingCopyUnmapAndPinning_GiveLinuxsAnswers_OnARealProgram(string host, string hwInfo, string rangesWithDomain)
    {
        string exe = NativeRun.Compile("examples/c/ioas.c");
        var run = CliRunner.Run("", "run", "--host", host, "--", exe);
        Assert.True(run.Exit == 0, run.Out + run.Err);
        Assert.DoesNotContain("FAIL", run.Out, StringComparison.Ordinal);
        Assert.Contains("ok   IOMMU_GET_HW_INFO -> " + hwInfo, run.Out, StringComparison.Ordinal);
        Assert.Contains("ok   IOMMU_IOAS_IOVA_RANGES (domain attached) -> " + rangesWithDomain, run.Out, StringComparison.Ordinal);
        Assert.Contains("ok   IOMMU_HWPT_ALLOC(over unmapped memory) -> EFAULT", run.Out, StringComparison.Ordinal);
        // The program's own memfd, reached through pidfd_getfd: pinned within its size, EINVAL past its end.
        Assert.Contains("ok   IOMMU_IOAS_MAP_FILE(memfd, domain attached) -> iova=0x10000000", run.Out, StringComparison.Ordinal);
        Assert.Contains("ok   IOMMU_IOAS_MAP_FILE(past the end of the memfd) -> EINVAL", run.Out, StringComparison.Ordinal);
        // VFIO type1 compatibility on the same fd: the second IOAS held the 1 MiB copy; MAP_DMA adds 64 KiB.
        Assert.Contains("ok   VFIO_IOMMU_UNMAP_DMA(ALL) -> size=0x110000", run.Out, StringComparison.Ordinal);
        Assert.EndsWith("ioas: 0 call(s) failed", run.Out.TrimEnd(), StringComparison.Ordinal);
    }

    [RunFact]
    public void Assign_OnTheDefaultHost_BindIsEinvalAndTheRequestEnxio()
    {
        string exe = NativeRun.Compile("examples/c/assign.c");
        var run = CliRunner.Run("", "run", "--", exe);
        Assert.True(run.Exit == 0, run.Out + run.Err);
        Assert.Contains("ok   IOMMU_VDEVICE_TSM_INFO -> tsm=none arch=Sev state=ConfigUnlocked bound=False ops=0x0", run.Out, StringComparison.Ordinal);
        Assert.Contains("ok   IOMMU_VDEVICE_TSM_OP(BIND) -> EINVAL", run.Out, StringComparison.Ordinal);
        Assert.Contains("ok   IOMMU_VDEVICE_TSM_REQ(SET_TDI_STATE RUN) -> ENXIO", run.Out, StringComparison.Ordinal);
    }

    [RunTheory]
    [InlineData("sev", "op-arch")]
    [InlineData("cca", "op-arch")]
    [InlineData("default", "op-arch")]
    [InlineData("sev", "scope")]
    public void Negative_EveryCaseGetsTheDocumentedErrno(string host, string profile)
    {
        string exe = NativeRun.Compile("examples/c/negative.c");
        var run = CliRunner.Run("", "run", "--host", host, "--profile", profile, "--", exe);
        Assert.True(run.Exit == 0, run.Out + run.Err);
        Assert.DoesNotContain("FAIL", run.Out, StringComparison.Ordinal);
        foreach (var expected in new[]
        {
            "ok   IOMMU_IOAS_ALLOC size 4 (below the minimum 12) -> EINVAL",
            "ok   IOMMU_IOAS_ALLOC size 32 with a non-zero tail -> E2BIG",
            "ok   IOMMU_IOAS_ALLOC arg 0x8 (wild pointer) -> EFAULT",
            "ok   IOMMU_IOAS_ALLOC struct in a read-only page (copy-back faults) -> EFAULT",
            "ok   IOMMU_IOAS_ALLOC size 0x7fffffff (zero tail runs off the mapping) -> EFAULT",
            "ok   ioctl on fd 999 (never opened) -> EBADF",
            "ok   access(\"/dev/iommu\", F_OK) -> 0",
            "ok   access(\"/dev/vfio/devices/vfio99\", F_OK) -> ENOENT",
            "ok   open(\"/dev/iommu\", O_DIRECTORY) -> ENOTDIR",
            "ok   open(\"/dev/iommu\", O_CREAT | O_EXCL) -> EEXIST",
            "ok   an x32 syscall (getpid | __X32_SYSCALL_BIT) -> ENOSYS",
            "ok   open(\"/dev/vfio/devices/vfio99\") -> ENOENT",
            "ok   VFIO_DEVICE_BIND_IOMMUFD with a pipe as iommufd -> EBADFD",
            "ok   VFIO_DEVICE_BIND_IOMMUFD with a closed fd as iommufd -> EBADF",
            "ok   ioctl on the closed iommufd -> EBADF",
        })
            Assert.Contains(expected, run.Out, StringComparison.Ordinal);
        if (profile == "scope") Assert.Contains("ok   IOMMU_VDEVICE_TSM_REQ scope 4 (above PCI_LAST) -> EINVAL", run.Out, StringComparison.Ordinal);
        else Assert.Contains("ok   IOMMU_VDEVICE_TSM_REQ tvm_arch not the VM's -> EINVAL", run.Out, StringComparison.Ordinal);
        if (host != "default" && profile == "op-arch")
            Assert.Contains("ok   IOMMU_VDEVICE_TSM_REQ payload in a PROT_NONE page -> EFAULT", run.Out, StringComparison.Ordinal);
    }

    [RunFact]
    public void ExitStatus_IsTheProgramsOwn()
    {
        var run = CliRunner.Run("", "run", "--", "/bin/sh", "-c", "echo hello; echo oops >&2; exit 7");
        Assert.Equal(7, run.Exit);
        Assert.Equal("hello\n", run.Out);
        Assert.Equal("oops\n", run.Err);
    }

    [RunFact]
    public void ProgramKilledBySignal_Exits128PlusTheSignal()
    {
        var run = CliRunner.Run("", "run", "--", "/bin/sh", "-c", "kill -9 $$");
        Assert.Equal(137, run.Exit);
    }

    [RunFact]
    public void ProgramNotFound_Is127_NotExecutable_Is126()
    {
        var missing = CliRunner.Run("", "run", "--", "/nonexistent/tsmlab-no-such-program");
        Assert.Equal(127, missing.Exit);
        Assert.Single(Lines(missing.Err));
        var notInPath = CliRunner.Run("", "run", "--", "tsmlab-no-such-command-anywhere");
        Assert.Equal(127, notInPath.Exit);
        string file = Path.Combine(Path.GetTempPath(), $"tsmlab-not-executable-{Environment.ProcessId}");
        File.WriteAllText(file, "#!/bin/sh\nexit 0\n");
        try
        {
            var notExec = CliRunner.Run("", "run", "--", file);
            Assert.Equal(126, notExec.Exit);
            Assert.Contains("permission denied", notExec.Err, StringComparison.Ordinal);
        }
        finally { File.Delete(file); }
    }

    [Fact]
    public void OwnFailures_Are125_WithOneLine()
    {
        var badHost = CliRunner.Run("", "run", "--host", "nosuchhost", "--", "/bin/true");
        Assert.Equal(125, badHost.Exit);
        Assert.Single(Lines(badHost.Err));
        var noProgram = CliRunner.Run("", "run");
        Assert.Equal(125, noProgram.Exit);
        Assert.Single(Lines(noProgram.Err));
    }

    [RunFact]
    public void Stdin_ReachesTheProgram()
    {
        var run = CliRunner.Run("line one\nline two\n", "run", "--", "/bin/cat");
        Assert.Equal(0, run.Exit);
        Assert.Equal("line one\nline two\n", run.Out);
    }

    [RunFact]
    public void SysfsAttributes_AreReadFromTheModel()
    {
        var run = CliRunner.Run("", "run", "--host", "sev", "--", "/bin/sh", "-c",
            "cat /sys/bus/pci/devices/0000:01:00.0/tsm/connect /sys/bus/pci/devices/0000:01:00.0/tsm/dsm; cat /sys/bus/pci/devices/0000:01:00.0/tsm/disconnect 2>/dev/null || echo refused");
        Assert.True(run.Exit == 0, run.Err);
        Assert.Equal("tsm0\n0000:01:00.0\nrefused\n", run.Out);
    }

    [RunFact]
    public void SysfsStoreAttribute_OpenedForWriting_IsEaccesWithANotice()
    {
        var run = CliRunner.Run("", "run", "--host", "sev", "--", "/bin/sh", "-c",
            "echo tsm0 > /sys/bus/pci/devices/0000:01:00.0/tsm/connect || echo refused");
        Assert.Equal("refused\n", run.Out);
        Assert.Contains("Permission denied", run.Err, StringComparison.Ordinal);
        Assert.Contains("tsmlab run: writing /sys/bus/pci/devices/0000:01:00.0/tsm/connect needs --trap-rw", run.Err, StringComparison.Ordinal);
    }

    [RunFact]
    public void TrapRw_SysfsStoresReachTheModel_AndDeviceReadWriteIsEinval()
    {
        const string d = "/sys/bus/pci/devices/0000:01:00.0/tsm";
        var run = CliRunner.Run("", "run", "--trap-rw", "--host", "sev", "--", "/bin/sh", "-c",
            $"cat {d}/connect; echo tsm0 > {d}/disconnect && echo disconnected; cat {d}/connect; " +
            $"echo nosuch > {d}/connect || echo refused; echo tsm0 > {d}/connect && echo reconnected; cat {d}/connect; " +
            "exec 3<>/dev/iommu; cat <&3 || echo read-refused; " +
            $"exec 4>{d}/connect; cat <&4 || echo not-opened-for-reading");
        Assert.True(run.Exit == 0, run.Err);
        Assert.Equal("tsm0\ndisconnected\n\nrefused\nreconnected\ntsm0\nread-refused\nnot-opened-for-reading\n", run.Out);
        Assert.Contains("cat: -: Invalid argument", run.Err, StringComparison.Ordinal);
        Assert.Contains("cat: -: Bad file descriptor", run.Err, StringComparison.Ordinal);
    }

    [RunFact]
    public void TrapRw_TheExamplesStillAnswerLikeReplay()
    {
        string exe = NativeRun.Compile("examples/c/jsonl-calls.c");
        string script = Path.Combine(CliRunner.RepoRoot(), "examples", "sev-assign.jsonl");
        var replay = CliRunner.Run("", "replay", "--host", "sev", script);
        var run = CliRunner.Run("", "run", "--trap-rw", "--host", "sev", "--", exe, script);
        Assert.True(run.Exit == 0, run.Err);
        Assert.Equal(replay.Out, run.Out);
    }

    [RunFact]
    public void RelativeAndUnnormalisedPaths_ReachTheModel()
    {
        string exe = NativeRun.Compile("examples/c/jsonl-calls.c");
        string script = Path.Combine(Path.GetTempPath(), $"tsmlab-run-paths-{Environment.ProcessId}.jsonl");
        File.WriteAllText(script, "{\"op\":\"open\",\"path\":\"iommu\"}\n{\"op\":\"open\",\"path\":\"//dev/./vfio/../kvm\"}\n{\"op\":\"open\",\"path\":\"../dev/vfio/devices/vfio0\"}\n");
        try
        {
            var run = CliRunner.Run("", "run", "--", "/bin/sh", "-c", $"cd /dev && exec {exe} {script}");
            Assert.True(run.Exit == 0, run.Err);
            Assert.Equal("{\"line\":1,\"op\":\"open\",\"fd\":3}\n{\"line\":2,\"op\":\"open\",\"fd\":4}\n{\"line\":3,\"op\":\"open\",\"fd\":5}\n", run.Out);
        }
        finally { File.Delete(script); }
    }

    [RunFact]
    public void Trace_RecordsTheProgramsIoctlsWithDecodedStructs()
    {
        string exe = NativeRun.Compile("examples/c/assign.c");
        string trace = Path.Combine(Path.GetTempPath(), $"tsmlab-run-trace-{Environment.ProcessId}.jsonl");
        string report = Path.ChangeExtension(trace, ".html");
        try
        {
            var run = CliRunner.Run("", "run", "--host", "sev", "--trace", trace, "--report", report, "--", exe);
            Assert.True(run.Exit == 0, run.Err);
            string text = File.ReadAllText(trace);
            Assert.Contains("IOMMU_VDEVICE_ALLOC", text, StringComparison.Ordinal);
            Assert.Contains("IOMMU_VDEVICE_TSM_OP", text, StringComparison.Ordinal);
            Assert.Contains("virt_id", text, StringComparison.Ordinal);
            string html = File.ReadAllText(report);
            Assert.StartsWith("<!DOCTYPE html>", html, StringComparison.OrdinalIgnoreCase);
            Assert.Contains("IOMMU_VDEVICE_TSM_OP", html, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(trace);
            File.Delete(report);
        }
    }

    private static string[] Lines(string s) => s.Split('\n', StringSplitOptions.RemoveEmptyEntries);
}
