using System.Diagnostics;
using System.Runtime.InteropServices;
using TsmLab.Kernel;
using TsmLab.Linux;

namespace TsmLab.Run;

/// <summary>What serves a seccomp listener until no task uses the filter (<see cref="Supervisor"/>).</summary>
internal interface IListenerServer : IDisposable
{
    /// <summary>Serves notifications until the last task under the filter is gone.</summary>
    void Serve();

    /// <summary>Called after the program was reaped: picks up what its exit released.</summary>
    void DrainReleases();

    RunStatistics Statistics { get; }
}

/// <summary>How to start this TsmLab again in launcher mode: an executable and the arguments before <see cref="RunLauncher.Verb"/>.</summary>
public sealed record LauncherCommand(string FileName, IReadOnlyList<string> LeadingArguments);

/// <summary>What the filter traps beyond the model's paths and ioctls (docs/run.md).</summary>
/// <param name="TrapReadWrite">Also trap read/write/pread64/pwrite64 on every fd, so model files answer them (sysfs stores, EINVAL on devices); every such call of the program pays the round trip.</param>
public sealed record RunOptions(bool TrapReadWrite = false);

/// <summary>
/// Where the program's standard streams go: null inherits this process's (the terminal), a
/// reader or writer gets a pipe pumped from or into it (tests drive the CLI in process).
/// </summary>
public sealed record RunStdio(TextReader? In, TextWriter? Out, TextWriter? Error);

/// <summary>
/// <c>tsmlab run -- PROGRAM ARGS</c> (docs/run.md): starts PROGRAM under a seccomp filter whose
/// listener this process serves against a booted host model, and returns PROGRAM's exit status.
/// TsmLab's own failures are one line on the error writer and 125; PROGRAM not found 127, not
/// executable 126 (the conventions of env and timeout).
/// </summary>
public static class RunSession
{
    /// <summary>Exit status for TsmLab's own failure (cannot start, unsupported system).</summary>
    public const int OwnFailure = 125;

    /// <summary>Why this system cannot run programs under the model, or null when it can.</summary>
    public static string? Unsupported()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64)
            return $"tsmlab run: needs Linux on x86-64 (this is {RuntimeInformation.OSDescription} on {RuntimeInformation.ProcessArchitecture})";
        string actions;
        try { actions = File.ReadAllText("/proc/sys/kernel/seccomp/actions_avail"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "tsmlab run: this kernel has no seccomp filter support (/proc/sys/kernel/seccomp/actions_avail is missing)";
        }
        if (!actions.Split(' ', '\n').Contains("user_notif"))
            return "tsmlab run: this kernel has no seccomp user notification (actions_avail lacks user_notif; Linux 5.0 or later with CONFIG_SECCOMP_FILTER)";
        return null;
    }

    /// <summary>Runs the program to completion; <paramref name="statistics"/> says what the supervisor did.</summary>
    public static int Run(HostKernel kernel, IReadOnlyList<string> command, LauncherCommand launcher, RunStdio stdio,
        TextWriter error, out RunStatistics statistics, RunOptions? options = null)
    {
        options ??= new RunOptions();
        return Run(command, launcher, stdio, error, (listener, pid) => new Supervisor(kernel, listener, pid, error, options.TrapReadWrite),
            out statistics, options);
    }

    /// <summary>
    /// Runs the program with another server on the listener (the benchmarks' bare round trip).
    /// The server is created once the listener is ours and disposed after the program exited.
    /// </summary>
    internal static int Run(IReadOnlyList<string> command, LauncherCommand launcher, RunStdio stdio,
        TextWriter error, Func<int, int, IListenerServer> createServer, out RunStatistics statistics, RunOptions? options = null)
    {
        statistics = new RunStatistics();
        if (Unsupported() is { } why)
        {
            error.WriteLine(why);
            return OwnFailure;
        }
        if (command.Count == 0)
        {
            error.WriteLine("tsmlab run: no program given (usage: tsmlab run [options] -- PROGRAM [ARGS...])");
            return OwnFailure;
        }
        int located = ProgramLocator.Resolve(command[0], out string programPath, out string problem);
        if (located != 0)
        {
            error.WriteLine(problem);
            return located;
        }

        DirectoryInfo dir;
        try { dir = Directory.CreateTempSubdirectory("tsmlab-run-"); }
        catch (IOException e)
        {
            error.WriteLine($"tsmlab run: cannot create a temporary directory: {e.Message}");
            return OwnFailure;
        }
        int ready = -1, go = -1, listener = -1, pidfd = -1;
        System.Diagnostics.Process? child = null;
        var pumps = new List<Task>();
        try
        {
            string readyPath = Path.Combine(dir.FullName, "ready"), goPath = Path.Combine(dir.FullName, "go");
            if (MakeFifo(readyPath) < 0 || MakeFifo(goPath) < 0
                || (ready = (int)Sys.Open(readyPath, LinuxConst.ORdwr | LinuxConst.OCloexec)) < 0
                || (go = (int)Sys.Open(goPath, LinuxConst.ORdwr | LinuxConst.OCloexec)) < 0)
            {
                error.WriteLine("tsmlab run: cannot create the launcher's FIFOs");
                return OwnFailure;
            }

            var psi = new ProcessStartInfo(launcher.FileName) { UseShellExecute = false };
            foreach (var a in launcher.LeadingArguments) psi.ArgumentList.Add(a);
            psi.ArgumentList.Add(RunLauncher.Verb);
            psi.ArgumentList.Add(readyPath);
            psi.ArgumentList.Add(goPath);
            psi.ArgumentList.Add(options?.TrapReadWrite == true ? "rw" : "-");
            psi.ArgumentList.Add(programPath);
            foreach (var a in command) psi.ArgumentList.Add(a);
            psi.RedirectStandardInput = stdio.In is not null;
            psi.RedirectStandardOutput = stdio.Out is not null;
            psi.RedirectStandardError = stdio.Error is not null;
            try { child = System.Diagnostics.Process.Start(psi)!; }
            catch (System.ComponentModel.Win32Exception e)
            {
                error.WriteLine($"tsmlab run: cannot start the launcher '{launcher.FileName}': {e.Message}");
                return OwnFailure;
            }
            if (stdio.Out is { } o) pumps.Add(Pump(child.StandardOutput, o));
            if (stdio.Error is { } er) pumps.Add(Pump(child.StandardError, er));
            if (stdio.In is { } i) _ = Feed(i, child.StandardInput);

            int launcherListener = WaitReady(ready, child);
            if (launcherListener < 0)
            {
                // The launcher failed before the filter (it said why) or died: pass its status on.
                child.WaitForExit();
                Task.WaitAll(pumps.ToArray());
                return child.ExitCode == 0 ? OwnFailure : child.ExitCode;
            }
            pidfd = (int)Sys.Call(SysNr.PidfdOpen, child.Id, 0);
            listener = pidfd < 0 ? pidfd : (int)Sys.Call(SysNr.PidfdGetfd, pidfd, launcherListener, 0);
            if (listener < 0)
            {
                error.WriteLine($"tsmlab run: cannot take the seccomp listener from the launcher (pidfd_getfd: errno {-listener}; Linux 5.6 or later and ptrace rights over it are needed)");
                child.Kill();
                child.WaitForExit();
                return OwnFailure;
            }
            using var supervisor = createServer(listener, child.Id);
            byte g = (byte)'g';
            // The terminal's SIGINT reaches the program too: it decides. SIGTERM and SIGHUP sent to
            // TsmLab are passed on to it. Either way TsmLab serves until the program is gone.
            int childPid = child.Id;
            using var onInt = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => c.Cancel = true);
            using var onQuit = PosixSignalRegistration.Create(PosixSignal.SIGQUIT, c => c.Cancel = true);
            using var onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; Sys.Call(SysNr.Kill, childPid, 15); });
            using var onHup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, c => { c.Cancel = true; Sys.Call(SysNr.Kill, childPid, 1); });
            Sys.Write(go, new ReadOnlySpan<byte>(ref g));
            try { supervisor.Serve(); }
            catch (IOException e)
            {
                // The listener itself failed: nothing can serve the program any more.
                error.WriteLine($"tsmlab run: {e.Message}; stopping the program");
                Sys.Call(SysNr.Kill, childPid, LinuxConst.Sigkill);
                child.WaitForExit();
                return OwnFailure;
            }
            child.WaitForExit();
            supervisor.DrainReleases();
            statistics = supervisor.Statistics;
            Task.WaitAll(pumps.ToArray());
            return child.ExitCode;
        }
        finally
        {
            foreach (int fd in new[] { ready, go, listener, pidfd }) if (fd >= 0) Sys.Close(fd);
            try { dir.Delete(recursive: true); } catch (IOException) { }
            child?.Dispose();
        }
    }

    /// <summary>Waits for the launcher's listener fd number; -1 when the launcher exited first.</summary>
    private static unsafe int WaitReady(int ready, System.Diagnostics.Process child)
    {
        int value = 0;
        while (true)
        {
            if (Sys.PollOne(ready, LinuxConst.PollIn, 50, out _) == 1)
            {
                long n = Sys.Call(SysNr.Read, ready, (long)&value, 4);
                return n == 4 ? value : -1;
            }
            if (child.HasExited) return -1;
        }
    }

    private static unsafe long MakeFifo(string path)
    {
        Span<byte> p = stackalloc byte[Sys.PathBytes(path)];
        Sys.WritePath(path, p);
        fixed (byte* pp = p) return Sys.Call(SysNr.Mknodat, LinuxConst.AtFdcwd, (long)pp, LinuxConst.SIfifo | 0x180, 0);
    }

    private static Task Pump(StreamReader from, TextWriter to) => Task.Factory.StartNew(() =>
    {
        var buf = new char[4096];
        int n;
        while ((n = from.Read(buf, 0, buf.Length)) > 0)
            lock (to) to.Write(buf, 0, n);
    }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private static Task Feed(TextReader from, StreamWriter to) => Task.Factory.StartNew(() =>
    {
        try
        {
            var buf = new char[4096];
            int n;
            while ((n = from.Read(buf, 0, buf.Length)) > 0) to.Write(buf, 0, n);
            to.Close();
        }
        catch (IOException) { } // the program closed its stdin or exited
    }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
}
