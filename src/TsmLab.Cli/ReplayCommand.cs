using TsmLab.Presentation;
using System.CommandLine;
using System.Text.Json;
using TsmLab.Hosts;
using TsmLab.Input;

namespace TsmLab.Cli;

/// <summary><c>tsmlab replay [FILE|-] [--host NAME] [--profile P] [--info]</c>: JSON Lines in, one JSON line out per line.</summary>
internal static class ReplayCommand
{
    public static Command Create(CliIo io)
    {
        var file = new Argument<string>("file") { Description = "JSON Lines script, or - for standard input", DefaultValueFactory = _ => "-" };
        var info = new Option<bool>("--info") { Description = "After the script, print the host as 'tsmlab info' does" };
        var json = new Option<bool>("--json") { Description = "With --info: print the host as JSON (one JSON line after the answer lines)" };
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
            FileStream? stream = null;
            if (path != "-")
            {
                try { stream = InputFile.OpenRegular(path, "script"); }
                catch (InputFileException e)
                {
                    io.Error.WriteLine($"tsmlab replay: {e.Message}");
                    return Program.UsageError;
                }
            }
            using var owned = stream;
            if (!trace.TryCreate(pr, io.Error, out var log)) return Program.UsageError;
            var kernel = host.Boot(pr, io.Error, log);
            if (kernel is null) return Program.UsageError;
            // A file's BOM is dropped by the decoder; standard input's by the line reader.
            TextReader input = stream is null ? io.In : new StreamReader(stream, System.Text.Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
            var session = new ReplaySession(kernel);
            session.Run(new BoundedLineReader(input), io.Out);
            // With --json the host is one more JSON line, so the output stays JSON Lines.
            if (pr.GetValue(info)) io.Out.Write(pr.GetValue(json) ? OneLine(HostReport.Json(kernel)) + "\n" : HostReport.Tree(kernel));
            return trace.Write(pr, log, io.Error, $"tsmlab replay {Printable.Of(path)} on host {kernel.Configuration.Name}") ? 0 : Program.UsageError;
        });
        return cmd;
    }

    private static string OneLine(string json)
    {
        using var doc = JsonDocument.Parse(json);
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms)) doc.WriteTo(w);
        return System.Text.Encoding.UTF8.GetString(ms.ToArray());
    }
}
