using System.CommandLine;
using TsmLab.Input;
using TsmLab.Kernel;
using TsmLab.Tracing;

namespace TsmLab.Cli;

/// <summary>The --trace FILE and --report FILE.html options: what a run records and where it goes.</summary>
internal sealed class TraceOption
{
    public Option<string?> Option { get; } = new("--trace") { Description = "Write every boundary crossing to FILE as JSON Lines" };
    public Option<string?> Report { get; } = new("--report") { Description = "Write a self-contained HTML report (sequence diagram, TDI state timeline) to FILE.html" };

    public void AddTo(Command c)
    {
        c.Options.Add(Option);
        c.Options.Add(Report);
    }

    /// <summary>
    /// Checks the output names before the run, so a bad one costs nothing: an empty name, a
    /// directory, or a folder that does not exist gets one line on <paramref name="error"/> and false.
    /// </summary>
    public bool Validate(ParseResult pr, TextWriter error) =>
        ValidatePath(pr.GetValue(Option), "trace", error) && ValidatePath(pr.GetValue(Report), "report", error);

    private static bool ValidatePath(string? path, string what, TextWriter error)
    {
        if (path is null) return true;
        string? problem = path.Length == 0 ? "empty file name"
            : path.Contains('\0') ? "the name contains a NUL byte"
            : Directory.Exists(path) ? "is a directory"
            : Path.GetDirectoryName(Path.GetFullPath(path)) is { Length: > 0 } dir && !Directory.Exists(dir) ? "no such directory"
            : null;
        if (problem is null) return true;
        error.WriteLine($"tsmlab: cannot write {what} file '{Printable.Of(path)}': {problem} (--{what} needs a file to write)");
        return false;
    }

    /// <summary>Attaches a log to the kernel when either output is asked for.</summary>
    public TraceLog? Attach(ParseResult pr, HostKernel kernel)
    {
        if (pr.GetValue(Option) is null && pr.GetValue(Report) is null) return null;
        var log = new TraceLog();
        Hosts.HostTracing.Attach(kernel, log);
        return log;
    }

    /// <summary>Writes the outputs asked for; false (after one line on <paramref name="error"/>) when a file cannot be written.</summary>
    public bool Write(ParseResult pr, TraceLog? log, TextWriter error, string title, IReadOnlyList<string>? header = null, IReadOnlyList<IReadOnlyList<string>>? rows = null)
    {
        if (log is null) return true;
        return WriteFile(pr.GetValue(Option), "trace", error, w => log.WriteJsonLines(w))
            && WriteFile(pr.GetValue(Report), "report", error, w => w.Write(HtmlReport.Render(title, log, header, rows)));
    }

    private static bool WriteFile(string? path, string what, TextWriter error, Action<TextWriter> write)
    {
        if (path is null) return true;
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
