using System.CommandLine;

namespace TsmLab.Cli;

/// <summary>The <c>tsmlab</c> command: one subcommand per file, registered here.</summary>
public static class Program
{
    /// <summary>Exit code for a usage error (bad option, unknown host, unreadable file).</summary>
    public const int UsageError = 2;

    public static int Main(string[] args) =>
        args.Length > 0 && args[0] == TsmLab.Run.RunLauncher.Verb ? TsmLab.Run.RunLauncher.Main(args[1..]) : Run(args, Console.In, Console.Out, Console.Error);

    /// <summary>Runs the command line with explicit streams, so tests drive it in process.</summary>
    public static int Run(string[] args, TextReader stdin, TextWriter stdout, TextWriter stderr)
    {
        var root = new RootCommand("TsmLab: an executable model of PCIe TDISP device assignment to confidential VMs");
        var io = new CliIo(stdin, stdout, stderr);
        root.Subcommands.Add(DemoCommand.Create(io));
        root.Subcommands.Add(AbiCommand.Create(io));
        root.Subcommands.Add(ReplayCommand.Create(io));
        root.Subcommands.Add(InfoCommand.Create(io));
        root.Subcommands.Add(TdispCommand.Create(io));
        root.Subcommands.Add(RunCommand.Create(io));
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            stderr.WriteLine($"tsmlab: {parse.Errors[0].Message} (see 'tsmlab {string.Join(' ', args.TakeWhile(a => !a.StartsWith('-')).Take(1))} --help')");
            return args.FirstOrDefault() == "run" ? TsmLab.Run.RunSession.OwnFailure : UsageError;
        }
        return parse.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr });
    }
}
