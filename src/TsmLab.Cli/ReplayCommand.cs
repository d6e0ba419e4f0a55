using System.CommandLine;
using TsmLab.Hosts;

namespace TsmLab.Cli;

/// <summary><c>tsmlab replay [FILE|-] [--host NAME] [--profile P] [--info]</c>: JSON Lines in, one JSON line out per line.</summary>
internal static class ReplayCommand
{
    public static Command Create(CliIo io)
    {
        var file = new Argument<string>("file") { Description = "JSON Lines script, or - for standard input", DefaultValueFactory = _ => "-" };
        var info = new Option<bool>("--info") { Description = "After the script, print the host as 'tsmlab info' does" };
        var json = new Option<bool>("--json") { Description = "With --info: print the host as JSON (one object after the answer lines)" };
        var host = new HostOptions();
        var trace = new TraceOption();
        var cmd = new Command("replay", "Replay a VMM's open/mmap/ioctl sequence against a host model");
        cmd.Arguments.Add(file);
        host.AddTo(cmd);
        cmd.Options.Add(info);
        cmd.Options.Add(json);
        trace.AddTo(cmd);
        cmd.SetAction(pr =>
        {
            string path = pr.GetValue(file)!;
            TextReader input;
            if (path == "-") input = io.In;
            else
            {
                if (!File.Exists(path))
                {
                    io.Error.WriteLine($"tsmlab replay: cannot read '{path}': no such file");
                    return Program.UsageError;
                }
                input = new StreamReader(path);
            }
            var kernel = host.Boot(pr, io.Error);
            if (kernel is null) return Program.UsageError;
            var log = trace.Attach(pr, kernel);
            using (input == io.In ? null : input)
            {
                var session = new ReplaySession(kernel);
                session.Run(input, io.Out);
            }
            if (pr.GetValue(info)) io.Out.Write(pr.GetValue(json) ? HostReport.Json(kernel) + "\n" : HostReport.Tree(kernel));
            return trace.Write(pr, log, io.Error, $"tsmlab replay {path} on host {kernel.Configuration.Name}") ? 0 : Program.UsageError;
        });
        return cmd;
    }
}
