using System.Text.Json;
using TsmLab.Abi;
using TsmLab.Input;
using TsmLab.Kernel;
using TsmLab.Kernel.Iommufd;
using TsmLab.Kernel.Tsm;
using TsmLab.Tdisp.Device;
using TsmLab.Tdisp.Wire;
using TsmLab.Tests.Cli;
using TsmLab.Tests.Kernel;
using static TsmLab.Tests.Kernel.Raw;


namespace TsmLab.Tests.Input;

/// <summary>Regression tests for issue 10's seven defects and its "Also" list: one clear line, never a stack trace.</summary>
public sealed class HostileInputTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("tsmlab-hostile-").FullName;

    public void Dispose() => Directory.Delete(dir, true);

    private string Write(string name, string text)
    {
        string path = Path.Combine(dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static void AssertOneLineNoTrace(string err)
    {
        Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.DoesNotContain("   at ", err, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", err, StringComparison.Ordinal);
    }

    private static List<JsonElement> Lines(string output) =>
        output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();

    // ---- 1. lone surrogates ----

    [Theory]
    [InlineData("""{"op":"open","path":"\udc00"}""", "field 'path'")]
    [InlineData("""{"op":"open","path":"\ud800x"}""", "field 'path'")]
    [InlineData("""{"op":"open","\udc00":1}""", "member name")]
    [InlineData("""{"op":"\ud83d"}""", "field 'op'")]
    public void LoneSurrogate_InAReplayLine_AnswersAnErrorAndTheRunGoesOn(string line, string field)
    {
        var (rc, o, e) = CliRunner.Run(line + "\n{\"op\":\"open\",\"path\":\"/dev/kvm\"}\n", "replay", "-");
        Assert.Equal(0, rc);
        Assert.Equal("", e);
        var l = Lines(o);
        Assert.Equal(2, l.Count);
        Assert.Contains(field, l[0].GetProperty("error").GetString());
        Assert.Contains("not valid text", l[0].GetProperty("error").GetString());
        Assert.Equal("""{"line":2,"op":"open","fd":3}""", l[1].GetRawText());
    }

    [Fact]
    public void ValidSurrogatePair_IsText()
    {
        var (_, o, _) = CliRunner.Run("""{"op":"open","path":"\ud83d\ude00"}""", "replay");
        Assert.Equal("ENOENT", Lines(o)[0].GetProperty("errno").GetString());
    }

    [Fact]
    public void LoneSurrogate_InHostAndDeviceFiles_Exits2WithFileLineAndField()
    {
        string host = Write("h.json", "{\n \"base\": \"cca\",\n \"name\": \"\\udc00\"\n}");
        var (rc, _, e) = CliRunner.Run("", "info", "--host", host);
        Assert.Equal(2, rc);
        AssertOneLineNoTrace(e);
        Assert.Contains("line 3", e);
        Assert.Contains("field 'name'", e);

        string device = Write("d.json", DefaultDevice.Json.Replace("\"tsmlab-default-device\"", "\"\\udc00\"", StringComparison.Ordinal));
        (rc, _, e) = CliRunner.Run("", "tdisp", "--device", device);
        Assert.Equal(2, rc);
        AssertOneLineNoTrace(e);
        Assert.Contains("field 'identity.seed'", e);
        Assert.Contains($"device file '{device}', line ", e);
    }

    // ---- 2. nested values of the wrong kind; unknown fields ----

    private const string Minimal = """{"segment":0,"bus":1,"device":0,"function":0,"vendorId":1,"deviceId":2,"bars":[{"index":0,"address":0,"size":4096}],"tdisp":{},"ide":{},"identity":{"seed":"s"}}""";

    [Theory]
    [InlineData("bars", "[1]", "field 'bars[0]' must be an object")]
    [InlineData("bars", "{}", "field 'bars' must be an array")]
    [InlineData("msix", "5", "field 'msix' must be an object")]
    [InlineData("sriov", "null", "field 'sriov' must be an object")]
    [InlineData("sriov", "{\"count\":1,\"firstVfOffset\":1,\"vfDeviceId\":2,\"bars\":[null]}", "field 'sriov.bars[0]' must be an object")]
    [InlineData("identity", "{\"seed\":\"s\",\"measurements\":{}}", "field 'identity.measurements' must be an array")]
    [InlineData("identity", "{\"seed\":\"s\",\"measurements\":[7]}", "field 'identity.measurements[0]' must be an object")]
    [InlineData("identity", "{\"seed\":\"s\",\"measurements\":[{\"index\":1,\"type\":0,\"text\":5}]}", "field 'identity.measurements[0].text' must be a string")]
    [InlineData("identity", "{\"seed\":\"s\",\"measurements\":[{\"index\":1,\"type\":0,\"text\":\"a\",\"raw\":\"00\"}]}", "either")]
    [InlineData("ide", "{\"streamIds\":\"0\"}", "field 'ide.streamIds' must be an array")]
    [InlineData("ide", "{\"streamIds\":[[0]]}", "field 'ide.streamIds[0]' must be a non-negative integer")]
    [InlineData("tdisp", "{\"requestsSupported\":[{}]}", "field 'tdisp.requestsSupported[0]' must be a non-negative integer")]
    [InlineData("tdisp", "[]", "field 'tdisp' must be an object")]
    [InlineData("tdisp", "{\"xtSuported\":true}", "unknown field 'tdisp.xtSuported'")]
    [InlineData("policy", "{\"stopInUnlocked\":1}", "field 'policy.stopInUnlocked' must be a string")]
    [InlineData("policy", "3", "field 'policy' must be an object")]
    [InlineData("colour", "\"red\"", "unknown field 'colour'")]
    [InlineData("bus", "1.5", "field 'bus' must be a non-negative integer")]
    [InlineData("bus", "-1", "field 'bus' must be a non-negative integer")]
    [InlineData("bus", "1e400", "field 'bus' must be a non-negative integer")]
    [InlineData("bus", "\"0x\"", "field 'bus' must be a non-negative integer")]
    [InlineData("bus", "256", "field 'bus' is too large")]
    public void DeviceFile_WithAWrongKindOrUnknownField_NamesTheFieldAndLine(string key, string value, string message)
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(Minimal)!.AsObject();
        node.Remove(key);
        string json = node.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        json = json[..^2] + $",\n  \"{key}\": {value}\n}}";
        var e = Assert.Throws<DeviceConfigurationException>(() => DeviceConfigurationJson.Parse(json, "device file 'x.json'"));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
        int lines = json.Split('\n').Length;
        Assert.StartsWith(message.StartsWith("unknown", StringComparison.Ordinal) || !value.Contains('\n') ? $"device file 'x.json', line {lines - 1}: " : "device file 'x.json', line ", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DuplicateKey_IsRefused()
    {
        var e = Assert.Throws<DeviceConfigurationException>(() => DeviceConfiguration.FromJson(Minimal.Replace("\"bus\":1", "\"bus\":1,\"bus\":2", StringComparison.Ordinal)));
        Assert.Contains("field 'bus' appears twice", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DeviceFile_NestedTooDeep_IsRefused()
    {
        string deep = new string('[', 200) + new string(']', 200);
        var e = Assert.Throws<DeviceConfigurationException>(() => DeviceConfiguration.FromJson(deep));
        Assert.Contains("not valid JSON", e.Message, StringComparison.Ordinal);
    }

    // ---- 3. resp_len >= 2^31 ----

    [Theory]
    [InlineData(0x8000_0000u)]
    [InlineData(0xFFFF_FFFFu)]
    public void RespLenAboveIntMax_IsRefusedBeforeTheFirmware_AndChangesNothing(uint respLen)
    {
        var r = TestHosts.Assigned(TvmArch.Cca);
        MapBuffer(r.Vmm);
        Assert.Equal(0, r.Vmm.Memory.CopyToUser(Buf + 0x1000, BitConverter.GetBytes(1u)));
        var s = Struct(48, U32(4, r.Vdev), U32(8, (uint)TsmReqOp.SetTdiState), U32(12, (uint)TvmArch.Cca), U32(16, 4), U32(20, respLen), U64(24, Buf + 0x1000), U64(32, Buf + 0x2000));
        long rc = Ioctl(r.Vmm, r.IommuFd, IommufdIoctl.VdeviceTsmReq, s);
        Assert.Equal(Neg(Errno.EINVAL), rc);
        Assert.Equal(TdiState.ConfigUnlocked, r.Kernel.Tsm.StateOf(r.Function));
        Assert.Equal(1, r.Kernel.IommufdContexts.Single().Get<Vdevice>(r.Vdev)!.Rejections(TsmRejection.NotServed));
    }

    [Fact]
    public void RespLenAtIntMax_Succeeds_WithAPositiveResidue()
    {
        var r = TestHosts.Assigned(TvmArch.Cca);
        MapBuffer(r.Vmm);
        Assert.Equal(0, r.Vmm.Memory.CopyToUser(Buf + 0x1000, BitConverter.GetBytes(1u)));
        var s = Struct(48, U32(4, r.Vdev), U32(8, (uint)TsmReqOp.SetTdiState), U32(12, (uint)TvmArch.Cca), U32(16, 4), U32(20, int.MaxValue), U64(24, Buf + 0x1000), U64(32, Buf + 0x2000));
        long rc = Ioctl(r.Vmm, r.IommuFd, IommufdIoctl.VdeviceTsmReq, s);
        Assert.True(rc >= 0, $"rc {rc}");
        Assert.Equal(TdiState.ConfigLocked, r.Kernel.Tsm.StateOf(r.Function));
    }

    // ---- 4. sparse address space ----

    [Fact]
    public void Mmap1TiB_TouchAFewPages_CostsKilobytes_AndMunmapDropsEverything()
    {
        var m = new AddressSpace();
        const ulong at = 0x1000_0000_0000, tib = 1UL << 40;
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Equal(0, m.Map(at, tib, Prot.ReadWrite));
        for (ulong i = 0; i < 8; i++) Assert.Equal(0, m.CopyToUser(at + i * (tib / 8) + 100, [1, 2, 3]));
        var b = new byte[3];
        Assert.Equal(0, m.CopyFromUser(b, at + tib - 4096));
        Assert.Equal(new byte[3], b);
        Assert.Equal(0, m.CopyFromUser(b, at + 100));
        Assert.Equal(new byte[] { 1, 2, 3 }, b);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 256 * 1024, "mmap of 1 TiB must not allocate its pages");
        Assert.Equal((long)(tib / 4096), m.MappedPages);
        Assert.Equal(8, m.ResidentPages);
        Assert.Equal(0, m.Unmap(0, AddressSpace.UserTop));
        Assert.Equal(0, m.MappedPages);
        Assert.Equal(0, m.ResidentPages);
        Assert.Equal(Neg(Errno.EFAULT), m.CopyFromUser(b, at + 100));
    }

    [Fact]
    public void Mprotect_SplitsAndMerges_AndRemapZeroesOnlyItsRange()
    {
        var m = new AddressSpace();
        const ulong a = 0x7f00_0000_0000;
        Assert.Equal(0, m.Map(a, 16 * 4096, Prot.ReadWrite));
        Assert.Equal(0, m.CopyToUser(a, new byte[16 * 4096].Select(_ => (byte)7).ToArray()));
        Assert.Equal(0, m.Protect(a + 4 * 4096, 4096, Prot.Read));
        Assert.Equal(3, m.MappingCount);
        Assert.Equal(Neg(Errno.EFAULT), m.CopyToUser(a + 4 * 4096, [1]));
        Assert.Equal(0, m.Protect(a + 4 * 4096, 4096, Prot.ReadWrite));
        Assert.Equal(1, m.MappingCount);
        Assert.Equal(0, m.Map(a + 8 * 4096, 4096, Prot.ReadWrite));
        var b = new byte[3];
        Assert.Equal(0, m.CopyFromUser(b, a + 8 * 4096 - 1));
        Assert.Equal(new byte[] { 7, 0, 0 }, b);
        Assert.Equal(0, m.Unmap(a + 4096, 4096));
        Assert.Equal(Neg(Errno.ENOMEM), m.Protect(a, 3 * 4096, Prot.Read));
        Assert.True(m.IsAccessible(a + 2 * 4096, 14 * 4096, Prot.ReadWrite));
        Assert.False(m.IsAccessible(a, 3 * 4096, Prot.Read));
    }

    [Fact]
    public void ReplayMunmapOfTheWholeUserRange_AfterATebibyteMapping_IsOneLineEach()
    {
        var (rc, o, _) = CliRunner.Run("""
            {"op":"mmap","addr":"0x100000000000","len":"0x10000000000","prot":"rw"}
            {"op":"write","addr":"0x100000001000","hex":"ff"}
            {"op":"munmap","addr":"0x0","len":"0x7ffffffff000"}
            {"op":"read","addr":"0x100000001000","len":1}
            """, "replay");
        Assert.Equal(0, rc);
        var l = Lines(o);
        Assert.Equal(0, l[0].GetProperty("ret").GetInt32());
        Assert.Equal(0, l[2].GetProperty("ret").GetInt32());
        Assert.Equal("EFAULT", l[3].GetProperty("errno").GetString());
    }

    // ---- 5. --trace "" / --report "" ----

    [Theory]
    [InlineData("demo", "--trace", "")]
    [InlineData("demo", "--report", "")]
    [InlineData("replay", "--trace", "")]
    [InlineData("demo", "--trace", "/")]
    [InlineData("demo", "--report", "/nonexistent-dir/r.html")]
    public void EmptyOrBadOutputName_Exits2BeforeTheRun(string command, string option, string value)
    {
        var (rc, o, e) = CliRunner.Run("{\"op\":\"open\",\"path\":\"/dev/kvm\"}\n", command, option, value);
        Assert.Equal(2, rc);
        Assert.Equal("", o);
        AssertOneLineNoTrace(e);
        Assert.Contains($"cannot write {option[2..]} file", e);
    }

    // ---- 6. offsets near 2^64 ----

    [Theory]
    [InlineData("\"msix\":{\"tableBar\":0,\"tableOffset\":\"0xfffffffffffffff8\",\"tableSize\":1,\"pbaBar\":0,\"pbaOffset\":\"0x800\"}", "msix.tableOffset")]
    [InlineData("\"msix\":{\"tableBar\":0,\"tableOffset\":\"0x0\",\"tableSize\":1,\"pbaBar\":0,\"pbaOffset\":\"0xfffffffffffffff8\"}", "msix.pbaOffset")]
    [InlineData("\"sriov\":{\"count\":255,\"firstVfOffset\":1,\"vfDeviceId\":2,\"bars\":[{\"index\":0,\"address\":\"0xffffffffff000000\",\"size\":\"0x100000\"}]}", "sriov.bars (index 0): the VF BAR array overflows")]
    [InlineData("\"sriov\":{\"count\":16,\"firstVfOffset\":1,\"vfDeviceId\":2,\"bars\":[{\"index\":0,\"address\":\"0xfff00000\",\"size\":\"0x100000\",\"is64Bit\":false}]}", "below 4 GiB")]
    public void RangesThatWrap_AreRefused(string replacement, string message)
    {
        string json = Minimal.Replace("\"segment\":0", "\"segment\":0," + replacement, StringComparison.Ordinal);
        var e = Assert.Throws<DeviceConfigurationException>(() => DeviceConfiguration.FromJson(json));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CheckedRange_RefusesWraps()
    {
        Assert.False(CheckedRange.Fits(ulong.MaxValue - 7, 16, 4096));
        Assert.True(CheckedRange.Fits(4080, 16, 4096));
        Assert.False(CheckedRange.TryEnd(ulong.MaxValue - 100, 2, 100, out _));
        Assert.False(CheckedRange.TryEnd(1, ulong.MaxValue / 2 + 1, 2, out _));
        Assert.True(CheckedRange.TryEnd(0x1000, 4, 0x1000, out ulong end) && end == 0x5000);
        Assert.False(CheckedRange.TryLast(ulong.MaxValue, 2, out _));
    }

    // ---- 7. devices, directories, endless input ----

    [Theory]
    [InlineData("replay", "/dev/zero", "is a character device")]
    [InlineData("replay", "/tmp", "is a directory")]
    [InlineData("--host", "/dev/zero", "is a character device")]
    [InlineData("--host", "/tmp/", "is a directory")]
    [InlineData("--device", "/dev/zero", "is a character device")]
    [InlineData("--device", "/dev/null", "is a character device")]
    public void DevicesAndDirectories_AreRefusedByName(string how, string path, string message)
    {
        string[] args = how switch
        {
            "replay" => ["replay", path],
            "--host" => ["info", "--host", path],
            _ => ["tdisp", "--device", path],
        };
        var (rc, o, e) = CliRunner.Run("", args);
        Assert.Equal(2, rc);
        Assert.Equal("", o);
        AssertOneLineNoTrace(e);
        Assert.Contains(message, e);
        Assert.Contains(path, e);
    }

    [Fact]
    public void OversizedDeviceFile_IsRefusedBySize()
    {
        string big = Write("big.json", "{" + new string(' ', InputFile.MaxConfigurationBytes) + "}");
        var (rc, _, e) = CliRunner.Run("", "tdisp", "--device", big);
        Assert.Equal(2, rc);
        AssertOneLineNoTrace(e);
        Assert.Contains("larger than 1 MiB", e);
    }

    /// <summary>Standard input that never ends a line: zero characters, then a real line.</summary>
    private sealed class EndlessZeros(long count, string after) : TextReader
    {
        private long left = count;
        private int afterAt;

        public override int Read(char[] buffer, int index, int n)
        {
            if (left > 0)
            {
                int k = (int)Math.Min(n, left);
                Array.Clear(buffer, index, k);
                left -= k;
                return k;
            }
            int m = Math.Min(n, after.Length - afterAt);
            after.CopyTo(afterAt, buffer, index, m);
            afterAt += m;
            return m;
        }
    }

    [Fact]
    public void StdinWithoutNewlines_IsBoundedPerLine_AndTheNextLineIsAnswered()
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int rc = TsmLab.Cli.Program.Run(["replay", "-"], new EndlessZeros(3 << 20, "\n{\"op\":\"open\",\"path\":\"/dev/kvm\"}\n"), o, e);
        Assert.Equal(0, rc);
        var l = Lines(o.ToString());
        Assert.Contains("longer than", l[0].GetProperty("error").GetString());
        Assert.Equal("""{"line":2,"op":"open","fd":3}""", l[1].GetRawText());
    }

    // ---- Also ----

    [Theory]
    [InlineData("--bogus")]
    [InlineData("replay", "--bogus")]
    [InlineData("demo", "--platfrom", "cca")]
    [InlineData("tdisp", "-x")]
    public void UnknownOption_IsNamed(params string[] args)
    {
        var (rc, _, e) = CliRunner.Run("", args);
        Assert.Equal(2, rc);
        AssertOneLineNoTrace(e);
        Assert.Contains($"unknown option '{args.First(a => a.StartsWith('-'))}'", e);
    }

    [Fact]
    public void Tdisp_Accepts0xPrefix()
    {
        var (rc, o, _) = CliRunner.Run("0x0110850000000100000000000000000000\n0110850000000100000000000000000000\n", "tdisp");
        Assert.Equal(0, rc);
        var lines = o.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.Equal(lines[1], lines[0]);
        Assert.DoesNotContain("error", lines[0], StringComparison.Ordinal);
    }

    [Fact]
    public void Utf8Bom_OnStdinAndInFiles_IsIgnored()
    {
        var (_, o, _) = CliRunner.Run("\uFEFF{\"op\":\"open\",\"path\":\"/dev/kvm\"}\n", "replay", "-");
        Assert.Equal("""{"line":1,"op":"open","fd":3}""", Lines(o).Single().GetRawText());
        string script = Path.Combine(dir, "bom.jsonl");
        File.WriteAllBytes(script, [0xEF, 0xBB, 0xBF, .. "{\"op\":\"open\",\"path\":\"/dev/kvm\"}\n"u8.ToArray()]);
        (_, o, _) = CliRunner.Run("", "replay", script);
        Assert.Equal("""{"line":1,"op":"open","fd":3}""", Lines(o).Single().GetRawText());
        (_, o, _) = CliRunner.Run("\uFEFF0110850000000100000000000000000000\n", "tdisp");
        Assert.DoesNotContain("error", o, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("name", "evil\\u001b[31m")]
    [InlineData("description", "a\\u0007b")]
    [InlineData("name", "x\\u202ey")]
    public void ControlCharactersInHostFiles_AreRefused_AndNeverEchoedRaw(string field, string value)
    {
        string host = Write("c.json", $"{{ \"base\": \"cca\", \"{field}\": \"{value}\" }}");
        var (rc, o, e) = CliRunner.Run("", "info", "--host", host);
        Assert.Equal(2, rc);
        Assert.Equal("", o);
        AssertOneLineNoTrace(e);
        Assert.Contains($"field '{field}'", e);
        Assert.DoesNotContain(e, ch => ch is '\u001b' or '\u0007' or '\u202e');
    }

    [Fact]
    public void ControlCharactersInArguments_AreNotEchoedRaw()
    {
        var (rc, _, e) = CliRunner.Run("", "info", "--host", "mars\u001b[2J");
        Assert.Equal(2, rc);
        Assert.DoesNotContain('\u001b', e);
        Assert.Contains("\\x1b", e);
    }

    [Fact]
    public void ReplayInfoJson_IsOneMoreJsonLine()
    {
        var (rc, o, _) = CliRunner.Run("{\"op\":\"open\",\"path\":\"/dev/kvm\"}\n", "replay", "--info", "--json");
        Assert.Equal(0, rc);
        var lines = o.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.All(lines, l => JsonDocument.Parse(l).Dispose());
        Assert.True(JsonDocument.Parse(lines[1]).RootElement.TryGetProperty("functions", out _));
    }

    [Fact]
    public void UnexpectedFailure_IsOneLineAndExit70_NeverAStackTrace()
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int rc = TsmLab.Cli.Program.Run(["replay", "-"], new ThrowingReader(), o, e);
        Assert.Equal(TsmLab.Cli.Program.InternalError, rc);
        AssertOneLineNoTraceButNamed(e.ToString());
    }

    private static void AssertOneLineNoTraceButNamed(string err)
    {
        Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.DoesNotContain("   at ", err, StringComparison.Ordinal);
        Assert.StartsWith("tsmlab: internal error: InvalidOperationException", err, StringComparison.Ordinal);
    }

    private sealed class ThrowingReader : TextReader
    {
        public override int Read(char[] buffer, int index, int count) => throw new InvalidOperationException("the reader broke\n   at somewhere");
    }
}
