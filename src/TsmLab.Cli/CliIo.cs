namespace TsmLab.Cli;

/// <summary>The standard streams a command reads and writes, injectable for tests.</summary>
public sealed record CliIo(TextReader In, TextWriter Out, TextWriter Error);
