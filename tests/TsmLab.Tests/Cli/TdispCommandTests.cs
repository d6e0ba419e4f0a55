using TsmLab.Tdisp.Device;


namespace TsmLab.Tests.Cli;

/// <summary>
/// `tsmlab tdisp`, driven in process through Program.Run.
/// </summary>
public class TdispCommandTests
{
    private const string GetVersion = "0110810000000100000000000000000000";
    private const string GetState = "0110850000000100000000000000000000";

    private static (int Code, string[] Out, string Err) Run(string stdin, params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = TsmLab.Cli.Program.Run(["tdisp", .. args], new StringReader(stdin), o, e);
        return (code, o.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), e.ToString());
    }

    [Fact]
    public void Tdisp_AnswersEachLine_SkipsBlanks_AndReportsBadHex()
    {
        var (code, lines, err) = Run($"{GetVersion}\n\n  \nzz\n{GetState}\n");
        Assert.Equal(0, code);
        Assert.Equal("", err);
        Assert.Equal(["01100100000001000000000000000000000110", "error: not a hex string (expected an even number of hex digits, optionally after 0x)", "011005000000010000000000000000000000"], lines);
    }

    [Fact]
    public void Tdisp_StatePersistsAcrossLines_AndErrorsComeBackAsTdispError()
    {
        var (_, lines, _) = Run($"01108300000001000000000000000000000400000000000000000000000000000000000000\n0110990000000100000000000000000000\n02\n");
        Assert.Equal("01107f00000001000000000000000000000100000000000000", lines[0]); // LOCK without IDE keys: INVALID_REQUEST
        Assert.Equal("01107f00000001000000000000000000000700000099000000", lines[1]); // unknown code 0x99
        Assert.StartsWith("error: no response", lines[2], StringComparison.Ordinal);
    }

    [Fact]
    public void Tdisp_FlushesEachAnswer_BeforeReadingTheNextLine()
    {
        var o = new StringWriter();
        var reader = new ObservingReader([GetState, GetState], o);
        Assert.Equal(0, TsmLab.Cli.Program.Run(["tdisp"], reader, o, new StringWriter()));
        Assert.Equal([0, 1, 2], reader.AnswersSeenBeforeEachRead);
    }

    private sealed class ObservingReader(string[] lines, StringWriter output) : TextReader
    {
        private int next;
        public List<int> AnswersSeenBeforeEachRead { get; } = [];

        // The command reads in blocks (bounded lines): each block here is one line, served only when asked.
        public override int Read(char[] buffer, int index, int count)
        {
            AnswersSeenBeforeEachRead.Add(output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
            if (next >= lines.Length) return 0;
            string line = lines[next++] + "\n";
            line.CopyTo(0, buffer, index, line.Length);
            return line.Length;
        }
    }

    [Fact]
    public void Tdisp_WithDeviceFile_UsesIt()
    {
        string path = Path.Combine(Path.GetTempPath(), $"tsmlab-device-{Guid.NewGuid():n}.json");
        File.WriteAllText(path, DefaultDevice.Json.Replace("\"stopInUnlocked\": \"succeed\"", "\"stopInUnlocked\": \"invalidInterfaceState\"", StringComparison.Ordinal));
        try
        {
            var (code, lines, _) = Run("0110870000000100000000000000000000\n", "--device", path);
            Assert.Equal(0, code);
            Assert.Equal("01107f00000001000000000000000000000400000000000000", lines[0]);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Tdisp_WithMissingOrBadDeviceFile_ExitsTwoWithOneLine()
    {
        var (code, lines, err) = Run(GetState, "--device", "/nonexistent/device.json");
        Assert.Equal(2, code);
        Assert.Empty(lines);
        Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("/nonexistent/device.json", err, StringComparison.Ordinal);
        Assert.Contains("docs/tdisp.md", err, StringComparison.Ordinal);

        string path = Path.Combine(Path.GetTempPath(), $"tsmlab-device-{Guid.NewGuid():n}.json");
        File.WriteAllText(path, "{\"bus\": 1}");
        try
        {
            (code, _, err) = Run(GetState, "--device", path);
            Assert.Equal(2, code);
            Assert.Contains("missing", err, StringComparison.Ordinal);
            Assert.Contains("see docs/tdisp.md", err, StringComparison.Ordinal);
            Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
