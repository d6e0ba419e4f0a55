using TsmLab.Presentation;
using System.CommandLine;
using TsmLab.Input;
using TsmLab.Kernel;
using TsmLab.Tracing;

namespace TsmLab.Cli;

/// <summary>The --trace FILE, --report FILE.html and --pcap FILE options: what a run records and where it goes.</summary>
internal sealed class TraceOption
{
    public Option<FileInfo?> Pcap { get; } = OutputFile("--pcap", "pcap", "FILE", "Write every DOE object the host relays, both directions, to FILE (pcap, link type 292 LINKTYPE_PCI_DOE)");

    public Option<FileInfo?> Option { get; } = OutputFile("--trace", "trace", "FILE", "Write every boundary crossing to FILE as JSON Lines");
    public Option<FileInfo?> Report { get; } = OutputFile("--report", "report", "FILE.html", "Write a self-contained HTML report (sequence diagram, TDI state timeline) to FILE.html");

    /// <summary>A file to write, checked when the command line is parsed: an empty name, a directory or a missing folder is a usage error naming it.</summary>
    internal static Option<FileInfo?> OutputFile(string name, string what, string helpName, string description) => new(name)
    {
        Description = description,
        HelpName = helpName,
        CustomParser = result =>
        {
            string path = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
            if (Problem(path) is { } problem)
            {
                result.AddError($"cannot write {what} file '{Printable.Of(path)}': {problem} ({name} needs a file to write)");
                return null;
            }
            return new FileInfo(path);
        },
    };

    public void AddTo(Command c)
    {
        c.Options.Add(Option);
        c.Options.Add(Report);
        c.Options.Add(Pcap);
    }


    private static string? Problem(string path) =>
        path.Length == 0 ? "empty file name"
        : path.Contains('\0') ? "the name contains a NUL byte"
        : Directory.Exists(path) ? "is a directory"
        : Path.GetDirectoryName(Path.GetFullPath(path)) is { Length: > 0 } dir && !Directory.Exists(dir) ? "no such directory"
        : null;

    /// <summary>
    /// A log when any output is asked for (null otherwise), with its DOE capture open when --pcap
    /// is; attach it before the host boots (HostOptions.Boot) so the connects are recorded too.
    /// False after one line on <paramref name="error"/> when the pcap file cannot be created.
    /// </summary>
    public bool TryCreate(ParseResult pr, TextWriter error, out TraceLog? log)
    {
        log = null;
        PcapWriter? pcap = null;
        if (pr.GetValue(Pcap) is { } file)
        {
            try
            {
                pcap = new PcapWriter(File.Create(file.FullName));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                error.WriteLine($"tsmlab: cannot write pcap file '{Printable.Of(file.FullName)}': {Printable.Of(e.Message)}");
                return false;
            }
        }
        if (pcap is null && pr.GetValue(Option) is null && pr.GetValue(Report) is null) return true;
        log = new TraceLog { DoeCapture = pcap };
        return true;
    }

    /// <summary>Whether the trace or report was asked for (the log's events are then written out).</summary>
    public bool WantsEvents(ParseResult pr) => pr.GetValue(Option) is not null || pr.GetValue(Report) is not null;

    /// <summary>Writes the outputs asked for; false (after one line on <paramref name="error"/>) when a file cannot be written.</summary>
    public bool Write(ParseResult pr, TraceLog? log, TextWriter error, string title, IReadOnlyList<string>? header = null, IReadOnlyList<IReadOnlyList<string>>? rows = null)
    {
        if (log is null) return true;
        log.DoeCapture?.Dispose();
        return WriteFile(pr.GetValue(Option), "trace", error, w => log.WriteJsonLines(w))
            && WriteFile(pr.GetValue(Report), "report", error, w => w.Write(HtmlReport.Render(title, log, header, rows)));
    }

    private static bool WriteFile(FileInfo? file, string what, TextWriter error, Action<TextWriter> write)
    {
        if (file is null) return true;
        string path = file.FullName;
        try
        {
            using var w = new StreamWriter(path);
            write(w);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            error.WriteLine($"tsmlab: cannot write {what} file '{Printable.Of(path)}': {Printable.Of(e.Message)}");
            return false;
        }
    }
}
