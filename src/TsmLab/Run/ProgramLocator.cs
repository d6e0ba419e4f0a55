using TsmLab.Input;
using TsmLab.Linux;

namespace TsmLab.Run;

/// <summary>
/// Finds the program to run as execvp(3) would: a name with a slash is used as is, any other is
/// searched in PATH (default /usr/local/bin:/usr/bin:/bin). The exit codes follow env(1) and
/// timeout(1): 127 when nothing is found, 126 when something is found but cannot be executed.
/// </summary>
public static class ProgramLocator
{
    /// <summary>0 with the path to execute, or 126/127 with one line saying why.</summary>
    public static int Resolve(string name, out string path, out string problem)
    {
        path = name;
        string shown = Printable.Of(name);
        problem = "";
        if (name.Length == 0)
        {
            problem = "tsmlab run: no program given";
            return 127;
        }
        if (name.Contains('/'))
        {
            if (!File.Exists(name))
            {
                problem = Directory.Exists(name) ? $"tsmlab run: '{shown}' is a directory" : $"tsmlab run: '{shown}': no such file";
                return Directory.Exists(name) ? 126 : 127;
            }
            if (!Executable(name))
            {
                problem = $"tsmlab run: '{shown}': permission denied (not executable)";
                return 126;
            }
            return 0;
        }
        string pathVar = Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin";
        bool sawNonExecutable = false;
        foreach (var dir in pathVar.Split(':'))
        {
            string candidate = Path.Combine(dir.Length == 0 ? "." : dir, name);
            if (!File.Exists(candidate)) continue;
            if (Executable(candidate))
            {
                path = candidate;
                return 0;
            }
            sawNonExecutable = true;
        }
        problem = sawNonExecutable ? $"tsmlab run: '{shown}': permission denied (not executable)" : $"tsmlab run: '{shown}': command not found";
        return sawNonExecutable ? 126 : 127;
    }

    private static unsafe bool Executable(string path)
    {
        Span<byte> p = stackalloc byte[Sys.PathBytes(path)];
        Sys.WritePath(path, p);
        const int XOk = 1;
        fixed (byte* pp = p) return Sys.Call(SysNr.Faccessat, LinuxConst.AtFdcwd, (long)pp, XOk) == 0;
    }
}
