using System.Diagnostics;
using TsmLab.Hosts;
using TsmLab.Kernel;
using TsmLab.Run;
using TsmLab.Tests.Cli;

namespace TsmLab.Tests.Run;

/// <summary>
/// What the `tsmlab run` tests need from the machine: Linux x86-64 with seccomp user
/// notification that works here (probed once by running /bin/true under the supervisor) and a
/// C compiler. Compiles C programs once per test run into a temporary folder.
/// </summary>
internal static class NativeRun
{
    private static readonly Lazy<string?> Compiler = new(FindCompiler);
    private static readonly Lazy<string?> Reason = new(Probe);
    private static readonly Lazy<string> BuildDir = new(() => Directory.CreateTempSubdirectory("tsmlab-run-tests-").FullName);
    private static readonly Dictionary<string, Lazy<string>> Built = new();

    /// <summary>The C compiler found in PATH (valid when <see cref="SkipReason"/> is null).</summary>
    public static string CompilerPath => Compiler.Value ?? "cc";

    /// <summary>Why the tests cannot run here, or null.</summary>
    public static string? SkipReason => Reason.Value;

    /// <summary>Compiles a C file of the repository (once) and returns the executable's path.</summary>
    public static string Compile(string repoRelativeSource, string extraFlags = "")
    {
        Lazy<string> lazy;
        lock (Built)
        {
            if (!Built.TryGetValue(repoRelativeSource, out lazy!))
                Built[repoRelativeSource] = lazy = new Lazy<string>(() => DoCompile(repoRelativeSource, extraFlags));
        }
        return lazy.Value;
    }

    /// <summary>Runs a program under the supervisor against a booted built-in host; returns the exit code and its output.</summary>
    public static (int Exit, string Out, string Err, RunStatistics Stats) Run(HostKernel kernel, params string[] command)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int rc = RunSession.Run(kernel, command, TsmLab.Cli.RunCommand.Self(), new RunStdio(new StringReader(""), o, e), e, out var stats);
        return (rc, o.ToString(), e.ToString(), stats);
    }

    public static HostKernel Boot(string host) => HostKernel.Boot(BuiltInHosts.Find(host)!);

    /// <summary>
    /// True when a program started from here may pin <paramref name="bytes"/>: it has CAP_IPC_LOCK,
    /// or the hard RLIMIT_MEMLOCK lets it raise its soft limit that far.
    /// </summary>
    public static bool CanLockMemory(ulong bytes)
    {
        var self = new TsmLab.Linux.RealCredentials(Environment.ProcessId);
        if (self.Capable(TsmLab.Kernel.IProcessCredentials.CapIpcLock)) return true;
        foreach (var line in File.ReadLines("/proc/self/limits"))
            if (line.StartsWith("Max locked memory", StringComparison.Ordinal))
            {
                var hard = line[26..].Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];
                return hard == "unlimited" || (ulong.TryParse(hard, out ulong h) && h >= bytes);
            }
        return false;
    }

    private static string DoCompile(string source, string extraFlags)
    {
        string root = CliRunner.RepoRoot();
        string output = Path.Combine(BuildDir.Value, Path.GetFileNameWithoutExtension(source));
        var psi = new ProcessStartInfo(Compiler.Value!) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { "-O2", "-Wall", "-Wextra", "-pthread", "-I", Path.Combine(root, "examples", "c"), "-o", output, Path.Combine(root, source) })
            psi.ArgumentList.Add(a);
        foreach (var a in extraFlags.Split(' ', StringSplitOptions.RemoveEmptyEntries)) psi.ArgumentList.Add(a);
        using var p = System.Diagnostics.Process.Start(psi)!;
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{Compiler.Value} {source} failed:\n{err}");
        return output;
    }

    private static string? FindCompiler()
    {
        foreach (var name in new[] { "cc", "gcc", "clang" })
            foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':'))
                if (dir.Length > 0 && File.Exists(Path.Combine(dir, name))) return Path.Combine(dir, name);
        return null;
    }

    private static string? Probe()
    {
        if (RunSession.Unsupported() is { } why) return why;
        if (Compiler.Value is null) return "no C compiler (cc, gcc or clang) in PATH";
        if (!File.Exists("/bin/true")) return "no /bin/true to probe seccomp user notification with";
        // Bounded: a sandbox that lets the launcher start but never delivers notifications
        // must make the tests skip, not hang.
        var probe = Task.Run(() => Run(Boot("default"), "/bin/true"));
        if (!probe.Wait(TimeSpan.FromSeconds(60))) return "seccomp user notification does not work here: /bin/true under tsmlab run did not finish in 60 s";
        var (rc, _, err, _) = probe.Result;
        return rc == 0 ? null : $"seccomp user notification does not work here: {err.Trim()}";
    }
}

/// <summary>A fact that reports itself skipped, with the reason, where `tsmlab run` cannot work (never a silent pass).</summary>
public sealed class RunFactAttribute : FactAttribute
{
    public RunFactAttribute()
    {
        if (NativeRun.SkipReason is { } why) Skip = why;
    }
}

/// <summary>A theory that reports itself skipped, with the reason, where `tsmlab run` cannot work.</summary>
public sealed class RunTheoryAttribute : TheoryAttribute
{
    public RunTheoryAttribute()
    {
        if (NativeRun.SkipReason is { } why) Skip = why;
    }
}
