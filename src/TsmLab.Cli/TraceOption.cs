using System.CommandLine;
using TsmLab.Kernel;
using TsmLab.Tracing;

namespace TsmLab.Cli;

/// <summary>The --trace FILE option: every boundary crossing as JSON Lines.</summary>
internal sealed class TraceOption
{
    public Option<string?> Option { get; } = new("--trace") { Description = "Write every boundary crossing to FILE as JSON Lines" };

    /// <summary>Attaches a log to the kernel when the option is given.</summary>
    public TraceLog? Attach(ParseResult pr, HostKernel kernel)
    {
        if (pr.GetValue(Option) is null) return null;
        var log = new TraceLog();
        kernel.Trace = log;
        return log;
    }

    /// <summary>Writes the log; false (after one line on <paramref name="error"/>) when the file cannot be written.</summary>
    public bool Write(ParseResult pr, TraceLog? log, TextWriter error)
    {
        string? path = pr.GetValue(Option);
        if (path is null || log is null) return true;
        try
        {
            using var w = new StreamWriter(path);
            log.WriteJsonLines(w);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"tsmlab: cannot write trace file '{path}': {e.Message}");
            return false;
        }
    }
}
