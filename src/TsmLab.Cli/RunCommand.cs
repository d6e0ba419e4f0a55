using System.CommandLine;
using TsmLab.Run;

namespace TsmLab.Cli;

/// <summary>
/// <c>tsmlab run [--host NAME|FILE] [--profile P] [--trace FILE] [--report FILE.html] [--trap-rw] [--stats] -- PROGRAM [ARGS...]</c>:
/// runs an unmodified program whose opens of <c>/dev/iommu</c>, <c>/dev/kvm</c>,
/// <c>/dev/vfio/devices/vfioN</c> and the TSM sysfs files, and whose ioctls on them, the host
/// model serves (docs/run.md). Exits with PROGRAM's status; 125 for TsmLab's own failures
/// (including a bad option, so they cannot be mistaken for PROGRAM's), 126/127 as env does.
/// </summary>
internal static class RunCommand
{
    public static Command Create(CliIo io)
    {
        var command = new Argument<string[]>("command") { Description = "PROGRAM and its arguments (after --)", Arity = ArgumentArity.OneOrMore };
        var trapRw = new Option<bool>("--trap-rw") { Description = "Also trap read/write/pread64/pwrite64: sysfs stores (connect, disconnect) and EINVAL for read/write on model devices, at the cost of a round trip for every such call" };
        var stats = new Option<bool>("--stats") { Description = "After the run, print what the supervisor did (notifications, emulated, continued, released) to stderr" };
        var host = new HostOptions();
        var trace = new TraceOption();
        var cmd = new Command("run", "Run an unmodified program against the host model: its opens and ioctls of the model's devices are served through seccomp user notification");
        host.AddTo(cmd);
        trace.AddTo(cmd);
        cmd.Options.Add(trapRw);
        cmd.Options.Add(stats);
        cmd.Arguments.Add(command);
        cmd.SetAction(pr =>
        {
            if (!trace.TryCreate(pr, io.Error, out var log)) return RunSession.OwnFailure;
            var kernel = host.Boot(pr, io.Error, log);
            if (kernel is null) return RunSession.OwnFailure;
            string[] argv = pr.GetValue(command)!;
            var stdio = new RunStdio(
                ReferenceEquals(io.In, Console.In) ? null : io.In,
                ReferenceEquals(io.Out, Console.Out) ? null : io.Out,
                ReferenceEquals(io.Error, Console.Error) ? null : io.Error);
            io.Out.Flush();
            int rc = RunSession.Run(kernel, argv, Self(), stdio, io.Error, out var s, new RunOptions(pr.GetValue(trapRw)));
            if (pr.GetValue(stats))
                io.Error.WriteLine($"tsmlab run: {s.Notifications} notifications: {s.Emulated} emulated, {s.Continued} continued, {s.Dropped} dropped; {s.Released} files released");
            if (!trace.Write(pr, log, io.Error, $"tsmlab run {string.Join(' ', argv)} on host {kernel.Configuration.Name}")) return RunSession.OwnFailure;
            return rc;
        });
        return cmd;
    }

    /// <summary>How to start this CLI again: the running apphost, or the dotnet host with this assembly.</summary>
    internal static LauncherCommand Self()
    {
        // AppContext.BaseDirectory, not Assembly.Location: a native (NativeAOT) build has no assembly file.
        string dll = Path.Combine(AppContext.BaseDirectory, "TsmLab.Cli.dll");
        string? running = Environment.ProcessPath;
        string apphost = Path.Combine(AppContext.BaseDirectory, "TsmLab.Cli");
        if (running is not null && Path.GetFileNameWithoutExtension(running) == "dotnet")
            return new LauncherCommand(running, ["exec", dll]);
        if (running is not null && Path.GetFileName(running) is "TsmLab.Cli" or "tsmlab")
            return new LauncherCommand(running, []);
        if (File.Exists(apphost)) return new LauncherCommand(apphost, []);
        return new LauncherCommand("dotnet", ["exec", dll]);
    }
}
