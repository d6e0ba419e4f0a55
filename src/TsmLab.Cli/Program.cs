using System.CommandLine;
using System.CommandLine.Parsing;
using TsmLab.Input;

namespace TsmLab.Cli;

/// <summary>The <c>tsmlab</c> command: one subcommand per file, registered here.</summary>
public static class Program
{
    /// <summary>Exit code for a usage error (bad option, unknown host, unreadable file).</summary>
    public const int UsageError = 2;

    /// <summary>Exit code when a command fails in a way TsmLab did not foresee (EX_SOFTWARE); one line names it, never a stack trace.</summary>
    public const int InternalError = 70;

    public static int Main(string[] args) =>
        args.Length > 0 && args[0] == TsmLab.Run.RunLauncher.Verb ? TsmLab.Run.RunLauncher.Main(args[1..]) : Run(args, Console.In, Console.Out, Console.Error);

    /// <summary>Runs the command line with explicit streams, so tests drive it in process.</summary>
    public static int Run(string[] args, TextReader stdin, TextWriter stdout, TextWriter stderr)
    {
        try
        {
            return RunCommand(args, stdin, stdout, stderr);
        }
        catch (Exception e)
        {
            // The last resort: every foreseen problem is answered where it happens.
            try
            {
                stdout.Flush();
                stderr.WriteLine($"tsmlab: internal error: {e.GetType().Name}: {Printable.Of(FirstLine(e.Message))} (please report this input)");
            }
            catch (IOException)
            {
            }
            // Under `tsmlab run` every status but 125-127 is the program's: TsmLab's own is 125.
            return args.FirstOrDefault() == "run" ? TsmLab.Run.RunSession.OwnFailure : InternalError;
        }
    }

    private static int RunCommand(string[] args, TextReader stdin, TextWriter stdout, TextWriter stderr)
    {
        // The root is named "tsmlab" whatever the executable is called, so usage lines read as users type them.
        var root = new Command("tsmlab", "TsmLab: an executable model of PCIe TDISP device assignment to confidential VMs");
        root.Options.Add(new System.CommandLine.Help.HelpOption());
        root.Options.Add(new VersionOption());
        var io = new CliIo(stdin, stdout, stderr);
        root.Subcommands.Add(DemoCommand.Create(io));
        root.Subcommands.Add(AbiCommand.Create(io));
        root.Subcommands.Add(ReplayCommand.Create(io));
        root.Subcommands.Add(InfoCommand.Create(io));
        root.Subcommands.Add(TdispCommand.Create(io));
        root.Subcommands.Add(DeviceCommand.Create(io));
        root.Subcommands.Add(TsmLab.Cli.RunCommand.Create(io));
        var parse = root.Parse(args);
        // The whole command path ("tsmlab device serve"), so a nested command's errors name it as typed.
        var names = new List<string>();
        for (var c = parse.CommandResult; c is not null; c = c.Parent as CommandResult) names.Insert(0, c.Command.Name);
        string command = string.Join(' ', names);
        if (UnknownOption(parse) is { } bad)
        {
            stderr.WriteLine($"{command}: unknown option '{Printable.Of(bad)}' (see '{command} --help')");
            return command == "tsmlab run" ? TsmLab.Run.RunSession.OwnFailure : UsageError;
        }
        if (parse.Errors.Count > 0)
        {
            // One line: the error that names the input (an unrecognized token) first.
            var error = parse.Errors.FirstOrDefault(e => e.Message.StartsWith("Unrecognized", StringComparison.Ordinal)) ?? parse.Errors[0];
            stderr.WriteLine($"{command}: {Printable.Of(error.Message)} (see '{command} --help')");
            return command == "tsmlab run" ? TsmLab.Run.RunSession.OwnFailure : UsageError;
        }
        return parse.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });
    }

    /// <summary>A token that looks like an option (starts with '-', is not "-" or a number) but is no option of the command.</summary>
    private static string? UnknownOption(ParseResult parse)
    {
        var known = new HashSet<string>(StringComparer.Ordinal);
        for (var c = parse.CommandResult; c is not null; c = c.Parent as CommandResult)
            foreach (var o in c.Command.Options)
            {
                known.Add(o.Name);
                foreach (var a in o.Aliases) known.Add(a);
            }
        foreach (var t in parse.Tokens)
        {
            if (t.Type == TokenType.DoubleDash) break;
            if (t.Type is TokenType.Argument && t.Value.Length > 1 && t.Value[0] == '-' && !char.IsAsciiDigit(t.Value[1]) && !known.Contains(t.Value))
                return t.Value;
        }
        foreach (var u in parse.UnmatchedTokens)
            if (u.Length > 1 && u[0] == '-') return u;
        return null;
    }

    private static string FirstLine(string s)
    {
        int i = s.IndexOf('\n');
        return i < 0 ? s : s[..i];
    }
}
