namespace TsmLab.Tests.Cli;

internal static class CliRunner
{
    public static (int Exit, string Out, string Err) Run(string stdin, params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int rc = TsmLab.Cli.Program.Run(args, new StringReader(stdin), o, e);
        return (rc, o.ToString(), e.ToString());
    }

    /// <summary>The repository root (where TsmLab.sln is), found from the test binary.</summary>
    public static string RepoRoot()
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d is not null && !File.Exists(Path.Combine(d.FullName, "TsmLab.sln"))) d = d.Parent;
        return d?.FullName ?? throw new InvalidOperationException("repository root not found");
    }
}
