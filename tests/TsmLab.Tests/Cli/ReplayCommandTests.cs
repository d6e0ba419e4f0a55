using System.Text.Json;

namespace TsmLab.Tests.Cli;

public class ReplayCommandTests
{
    private static List<JsonElement> Lines(string output) =>
        output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();

    [Fact]
    public void ExampleAssign_EveryLineGivesTheResultItsCommentStates()
    {
        var (_, answers) = ExampleScript.Check("assign.jsonl");
        Assert.True(answers.Count > 30);
    }

    [Fact]
    public void Open_ReturnsLowestFd_AndErrorsCarryErrnoName()
    {
        var (rc, o, _) = CliRunner.Run("""
            {"op":"open","path":"/dev/iommu"}
            {"op":"open","path":"/dev/none"}
            {"op":"close","fd":3}
            {"op":"close","fd":3}
            """, "replay", "-");
        Assert.Equal(0, rc);
        var l = Lines(o);
        Assert.Equal("""{"line":1,"op":"open","fd":3}""", l[0].GetRawText());
        Assert.Equal("""{"line":2,"op":"open","ret":-2,"errno":"ENOENT"}""", l[1].GetRawText());
        Assert.Equal("""{"line":3,"op":"close","ret":0}""", l[2].GetRawText());
        Assert.Equal("""{"line":4,"op":"close","ret":-9,"errno":"EBADF"}""", l[3].GetRawText());
    }

    [Fact]
    public void MemoryOps_MapWriteReadProtectFault()
    {
        var (_, o, _) = CliRunner.Run("""
            {"op":"mmap","addr":"0x7f0000000000","len":8192,"prot":"rw"}
            {"op":"write","addr":"0x7f0000000ffe","hex":"deadbeef"}
            {"op":"read","addr":"0x7f0000000ffe","len":4}
            {"op":"mprotect","addr":"0x7f0000000000","len":4096,"prot":"r"}
            {"op":"write","addr":"0x7f0000000000","hex":"00"}
            {"op":"mprotect","addr":"0x7f0000000000","len":4096,"prot":"none"}
            {"op":"read","addr":"0x7f0000000000","len":1}
            {"op":"read","addr":"0x7e0000000000","len":1}
            {"op":"mmap","addr":"0x7f0000000001","len":4096,"prot":"rw"}
            """, "replay");
        var l = Lines(o).Select(x => x.GetRawText()).ToList();
        Assert.Equal("""{"line":1,"op":"mmap","ret":0}""", l[0]);
        Assert.Equal("""{"line":2,"op":"write","ret":0}""", l[1]);
        Assert.Equal("""{"line":3,"op":"read","hex":"deadbeef"}""", l[2]);
        Assert.Equal("""{"line":4,"op":"mprotect","ret":0}""", l[3]);
        Assert.Equal("""{"line":5,"op":"write","ret":-14,"errno":"EFAULT"}""", l[4]);
        Assert.Equal("""{"line":6,"op":"mprotect","ret":0}""", l[5]);
        Assert.Equal("""{"line":7,"op":"read","ret":-14,"errno":"EFAULT"}""", l[6]);
        Assert.Equal("""{"line":8,"op":"read","ret":-14,"errno":"EFAULT"}""", l[7]);
        Assert.Equal("""{"line":9,"op":"mmap","ret":-22,"errno":"EINVAL"}""", l[8]);
    }

    [Fact]
    public void BlankAndCommentLines_AreSkippedButCounted()
    {
        var (_, o, _) = CliRunner.Run("\n# hello\n   \n{\"op\":\"open\",\"path\":\"/dev/kvm\"}\n", "replay");
        Assert.Equal("""{"line":4,"op":"open","fd":3}""", Lines(o).Single().GetRawText());
    }

    [Theory]
    [InlineData("{nope", "malformed JSON")]
    [InlineData("[1,2]", "a line must be a JSON object")]
    [InlineData("{\"op\":\"fly\"}", "unknown op 'fly'")]
    [InlineData("{\"path\":\"/dev/kvm\"}", "missing field 'op'")]
    [InlineData("{\"op\":\"open\"}", "missing field 'path'")]
    [InlineData("{\"op\":\"mmap\",\"addr\":\"0x1000\",\"len\":4096,\"prot\":\"x\"}", "field 'prot'")]
    [InlineData("{\"op\":\"write\",\"addr\":\"0x1000\",\"hex\":\"abc\"}", "odd number of hex digits")]
    [InlineData("{\"op\":\"write\",\"addr\":\"0x1000\",\"hex\":\"zz\"}", "not hex")]
    [InlineData("{\"op\":\"ioctl\",\"fd\":3,\"cmd\":\"0x1ffffffff\"}", "field 'cmd' is too large")]
    [InlineData("{\"op\":\"read\",\"addr\":-1,\"len\":1}", "field 'addr' must be")]
    [InlineData("{\"op\":\"close\",\"fd\":\"three\"}", "field 'fd' must be")]
    public void BadLine_GivesErrorAndTheRunGoesOn(string line, string message)
    {
        var (rc, o, _) = CliRunner.Run(line + "\n{\"op\":\"open\",\"path\":\"/dev/kvm\"}\n", "replay");
        Assert.Equal(0, rc);
        var l = Lines(o);
        Assert.Equal(1, l[0].GetProperty("line").GetInt32());
        Assert.Contains(message, l[0].GetProperty("error").GetString());
        Assert.False(l[0].TryGetProperty("op", out _));
        Assert.Equal("""{"line":2,"op":"open","fd":3}""", l[1].GetRawText());
    }

    [Fact]
    public void IoctlArg_PlainInteger_CreatesVm()
    {
        var (_, o, _) = CliRunner.Run("""
            {"op":"open","path":"/dev/kvm"}
            {"op":"ioctl","fd":3,"cmd":"0xae01","arg":4}
            {"op":"ioctl","fd":3,"cmd":44545,"arg":"4"}
            {"op":"ioctl","fd":3,"cmd":"0xae01","arg":1}
            """, "replay");
        var l = Lines(o).Select(x => x.GetRawText()).ToList();
        Assert.Equal("""{"line":2,"op":"ioctl","ret":4}""", l[1]);
        Assert.Equal("""{"line":3,"op":"ioctl","ret":5}""", l[2]);
        Assert.Equal("""{"line":4,"op":"ioctl","ret":-22,"errno":"EINVAL"}""", l[3]);
    }

    [Fact]
    public void ScopeProfile_ChangesTheTsmReqLayout()
    {
        // A 40-byte TSM_REQ is EINVAL (too short) in op-arch and reaches the lookup (ENOENT) in scope.
        string script = """
            {"op":"mmap","addr":"0x10000","len":4096,"prot":"rw"}
            {"op":"open","path":"/dev/iommu"}
            {"op":"write","addr":"0x10000","hex":"28000000090000000000000000000000"}
            {"op":"ioctl","fd":3,"cmd":"0x3b96","arg":"0x10000"}
            """;
        var (_, a, _) = CliRunner.Run(script, "replay", "--profile", "op-arch");
        var (_, b, _) = CliRunner.Run(script, "replay", "--profile", "scope");
        Assert.Equal("EINVAL", Lines(a)[3].GetProperty("errno").GetString());
        Assert.Equal("ENOENT", Lines(b)[3].GetProperty("errno").GetString());
    }

    [Fact]
    public void SysfsOps_ReadAndWrite()
    {
        var (_, o, _) = CliRunner.Run("""
            {"op":"sysfs_read","path":"/sys/bus/pci/devices/0000:01:00.0/tsm/connect"}
            """, "replay");
        Assert.Equal("ENOENT", Lines(o)[0].GetProperty("errno").GetString());
    }

    [Fact]
    public void UnknownHost_Exits2()
    {
        var (rc, o, e) = CliRunner.Run("", "replay", "--host", "mars");
        Assert.Equal(2, rc);
        Assert.Equal("", o);
        Assert.Contains("unknown host 'mars'", e);
    }

    [Fact]
    public void MissingFile_Exits2()
    {
        var (rc, _, e) = CliRunner.Run("", "replay", "/nonexistent/x.jsonl");
        Assert.Equal(2, rc);
        Assert.Contains("cannot read script '/nonexistent/x.jsonl': no such file", e);
    }

    [Fact]
    public void InfoJson_AfterCcaScript_ShowsTheBoundTdiInRun()
    {
        string path = Path.Combine(CliRunner.RepoRoot(), "examples", "cca-assign.jsonl");
        var lines = File.ReadAllLines(path).TakeWhile(l => !l.Contains("\"op\":\"close\"", StringComparison.Ordinal));
        var (rc, o, _) = CliRunner.Run(string.Join('\n', lines), "replay", "--host", "cca", "--info", "--json");
        Assert.Equal(0, rc);
        // The host comes as one more JSON line after the answers.
        var all = o.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.All(all, l => JsonDocument.Parse(l).Dispose());
        using var doc = JsonDocument.Parse(all[^1]);
        var tdi = doc.RootElement.GetProperty("functions")[0].GetProperty("tdi");
        Assert.Equal("tsm0", tdi.GetProperty("tsm").GetString());
        Assert.Equal("Run", tdi.GetProperty("state").GetString());
        var vdev = doc.RootElement.GetProperty("iommufd")[0].EnumerateArray().Single(x => x.GetProperty("type").GetString() == "vdevice");
        Assert.True(vdev.GetProperty("tsm_bound").GetBoolean());
        Assert.Equal("tsm0", doc.RootElement.GetProperty("sysfs").GetProperty("/sys/bus/pci/devices/0000:01:00.0/tsm/bound").GetString());
    }

    [Fact]
    public void Info_AfterScript_ShowsObjectsLeft()
    {
        string path = Path.Combine(CliRunner.RepoRoot(), "examples", "assign.jsonl");
        var lines = File.ReadAllLines(path).TakeWhile(l => !l.Contains("\"op\":\"close\"")).ToArray();
        var (rc, o, _) = CliRunner.Run(string.Join('\n', lines), "replay", "--info");
        Assert.Equal(0, rc);
        Assert.Contains("vdevice virt_id 0x18", o);
        Assert.Contains("not bound", o);
        Assert.Contains("rejections 2 (OpNotValidForArch 1, NotConnected 1)", o);
    }
}
