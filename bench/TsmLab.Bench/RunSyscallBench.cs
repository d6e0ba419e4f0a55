using System.Diagnostics;
using System.Globalization;
using TsmLab.Hosts;
using TsmLab.Kernel;
using TsmLab.Linux;
using TsmLab.Run;

namespace TsmLab.Bench;

/// <summary>
/// The `tsmlab run` benchmark (issue 13 §4), a C driver program timed from inside (bench/run/syscall-bench.c)
/// under three supervisors in one run: none (native), the model's (<c>tsmlab run</c>), and a bare
/// server that answers every trapped ioctl at once with 0 (the seccomp notification round trip
/// and nothing else). Run: <c>dotnet run -c Release --project bench/TsmLab.Bench -- run-syscalls [rounds]</c>.
/// Each figure is the median of the rounds.
/// </summary>
internal static class RunSyscallBench
{
    public const string Verb = "run-syscalls";

    public static int Execute(string[] args)
    {
        if (RunSession.Unsupported() is { } why)
        {
            Console.Error.WriteLine(why);
            return 125;
        }
        int rounds = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 5;
        string driver = Compile();
        var results = new Dictionary<string, List<double>>();
        for (int r = 0; r < rounds; r++)
        {
            Add(results, "native: 1M unrelated syscalls (ns/call)", Native(driver, "unrelated", 1_000_000));
            Add(results, "native: ioctl(FIONREAD) on a pipe", Native(driver, "pipe", 200_000));
            Add(results, "run: 1M unrelated syscalls (ns/call)", Model("default", driver, "unrelated", 1_000_000));
            Add(results, "run: ioctl(FIONREAD) on a pipe", Model("default", driver, "pipe", 200_000));
            Add(results, "bare: notification answered at once", Bare(driver, "bare", 20_000));
            Add(results, "run: iommufd-type ioctl on a pipe, continued", Model("default", driver, "trapped", 20_000));
            Add(results, "run: emulated no-op ioctl (KVM_GET_API_VERSION)", Model("default", driver, "noop", 20_000));
            Add(results, "run: emulated TSM_REQ (CCA OBJECT_INFO)", Model("cca", driver, "tsmreq", 20_000));
        }
        Console.WriteLine($"tsmlab run benchmark: {rounds} rounds, median ns per call ({Environment.ProcessorCount} CPUs, {DateTime.UtcNow:yyyy-MM-dd})");
        foreach (var (name, values) in results)
            Console.WriteLine($"  {name,-52} {Median(values),10:0.0}");
        double bare = Median(results["bare: notification answered at once"]);
        double noop = Median(results["run: emulated no-op ioctl (KVM_GET_API_VERSION)"]);
        double req = Median(results["run: emulated TSM_REQ (CCA OBJECT_INFO)"]);
        double unrelated = Median(results["run: 1M unrelated syscalls (ns/call)"]) / Median(results["native: 1M unrelated syscalls (ns/call)"]);
        Console.WriteLine($"  emulated no-op / bare round trip: {noop / bare:0.00}x (target 1.5x)");
        Console.WriteLine($"  emulated TSM_REQ / bare round trip: {req / bare:0.00}x");
        Console.WriteLine($"  unrelated syscalls under run / native: {unrelated:0.00}x (target 1.2x)");
        return 0;
    }

    /// <summary>The bench executable re-entered as the launcher (see Program.cs).</summary>
    public static LauncherCommand Self()
    {
        string self = Environment.ProcessPath!;
        return Path.GetFileNameWithoutExtension(self) == "dotnet"
            ? new LauncherCommand(self, ["exec", typeof(RunSyscallBench).Assembly.Location])
            : new LauncherCommand(self, []);
    }

    private static void Add(Dictionary<string, List<double>> d, string name, double value)
    {
        if (!d.TryGetValue(name, out var list)) d[name] = list = new List<double>();
        list.Add(value);
    }

    private static double Median(List<double> v)
    {
        var s = v.Order().ToList();
        return s[s.Count / 2];
    }

    private static string Compile()
    {
        string root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "TsmLab.sln"))) root = Path.GetDirectoryName(root) ?? throw new InvalidOperationException("repository root not found");
        string output = Path.Combine(Directory.CreateTempSubdirectory("tsmlab-run-bench-").FullName, "syscall-bench");
        var psi = new ProcessStartInfo("cc") { RedirectStandardError = true };
        foreach (var a in new[] { "-O2", "-I", Path.Combine(root, "examples", "c"), "-o", output, Path.Combine(root, "bench", "run", "syscall-bench.c") })
            psi.ArgumentList.Add(a);
        using var cc = System.Diagnostics.Process.Start(psi)!;
        string err = cc.StandardError.ReadToEnd();
        cc.WaitForExit();
        if (cc.ExitCode != 0) throw new InvalidOperationException("cc failed: " + err);
        return output;
    }

    private static double Native(string driver, string mode, int n)
    {
        var psi = new ProcessStartInfo(driver) { RedirectStandardOutput = true };
        psi.ArgumentList.Add(mode);
        psi.ArgumentList.Add(n.ToString(CultureInfo.InvariantCulture));
        using var p = System.Diagnostics.Process.Start(psi)!;
        string o = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return Parse(o);
    }

    private static double Model(string host, string driver, string mode, int n)
    {
        var kernel = HostKernel.Boot(BuiltInHosts.Find(host)!);
        var o = new StringWriter();
        int rc = RunSession.Run(kernel, [driver, mode, n.ToString(CultureInfo.InvariantCulture)], Self(), new RunStdio(null, o, null), Console.Error, out _);
        if (rc != 0) throw new InvalidOperationException($"{mode} under run exited {rc}: {o}");
        return Parse(o.ToString());
    }

    private static double Bare(string driver, string mode, int n)
    {
        var o = new StringWriter();
        int rc = RunSession.Run([driver, mode, n.ToString(CultureInfo.InvariantCulture)], Self(), new RunStdio(null, o, null), Console.Error,
            (listener, _) => new BareServer(listener), out _);
        if (rc != 0) throw new InvalidOperationException($"{mode} under the bare server exited {rc}: {o}");
        return Parse(o.ToString());
    }

    private static double Parse(string output)
    {
        var line = output.Split('\n').First(l => l.StartsWith("RESULT ", StringComparison.Ordinal)).Split(' ');
        return double.Parse(line[2], CultureInfo.InvariantCulture);
    }

    /// <summary>Answers every trapped ioctl with 0 at once and continues everything else: the round trip alone.</summary>
    private sealed class BareServer(int listener) : IListenerServer
    {
        public RunStatistics Statistics { get; } = new();

        public void Serve()
        {
            while (true)
            {
                long rc = Sys.PollOne(listener, LinuxConst.PollIn, -1, out short revents);
                if (rc == -LinuxErrno.EINTR) continue;
                if ((revents & LinuxConst.PollIn) == 0) return;
                if (Seccomp.Receive(listener, out var n) < 0) continue;
                if (n.Nr == SysNr.Ioctl) Seccomp.Send(listener, n.Id, 0, 0);
                else Seccomp.Continue(listener, n.Id);
            }
        }

        public void DrainReleases() { }

        public void Dispose() { }
    }
}
