using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using TsmLab.Abi;
using TsmLab.Kernel;

namespace TsmLab.Hosts;

/// <summary>
/// The scriptable front door of <c>tsmlab replay</c>: one VMM process on a booted host, driven
/// by JSON Lines, one JSON answer per input line (docs/replay.md). Operations: open, close,
/// mmap, munmap, mprotect, write, read, ioctl, and the admin's sysfs_read / sysfs_write.
/// A malformed line or an unknown op answers {"line":N,"error":"…"} and the run goes on.
/// </summary>
public sealed class ReplaySession
{
    private int lineNumber;

    public ReplaySession(HostKernel kernel)
    {
        Kernel = kernel;
        Process = kernel.CreateProcess();
    }

    public HostKernel Kernel { get; }
    public Process Process { get; }

    /// <summary>Runs every line of <paramref name="input"/>, writing one answer line each to <paramref name="output"/>.</summary>
    public void Run(TextReader input, TextWriter output)
    {
        while (input.ReadLine() is { } line)
        {
            string? answer = Execute(line);
            if (answer is null) continue;
            output.WriteLine(answer);
            output.Flush();
        }
    }

    /// <summary>Executes one input line; null for a blank or comment line (which still counts as a line).</summary>
    public string? Execute(string line)
    {
        lineNumber++;
        var trimmed = line.AsSpan().Trim();
        if (trimmed.IsEmpty || trimmed[0] == '#') return null;
        var buffer = new ArrayBufferWriter<byte>();
        using var w = new Utf8JsonWriter(buffer);
        w.WriteStartObject();
        w.WriteNumber("line", lineNumber);
        try
        {
            using var doc = JsonDocument.Parse(line);
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new ReplayInputException("a line must be a JSON object");
            var root = doc.RootElement;
            string op = RequiredString(root, "op");
            // Validate and act first, so an input error never leaves a half-written answer.
            var result = Dispatch(op, root);
            w.WriteString("op", op);
            result(w);
        }
        catch (Exception e) when (e is JsonException or ReplayInputException)
        {
            w.Reset(buffer);
            buffer.Clear();
            w.WriteStartObject();
            w.WriteNumber("line", lineNumber);
            w.WriteString("error", e is JsonException ? $"malformed JSON: {FirstSentence(e.Message)}" : e.Message);
        }
        w.WriteEndObject();
        w.Flush();
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private Action<Utf8JsonWriter> Dispatch(string op, JsonElement e)
    {
        var mem = Process.Memory;
        switch (op)
        {
            case "open":
            {
                int fd = Process.Open(RequiredString(e, "path"));
                return fd >= 0 ? w => w.WriteNumber("fd", fd) : Ret(fd);
            }
            case "close":
                return Ret(Process.Close(checked((int)RequiredInteger(e, "fd", int.MaxValue))));
            case "mmap":
                return Ret(mem.Map(RequiredInteger(e, "addr"), RequiredInteger(e, "len"), ParseProt(e)));
            case "munmap":
                return Ret(mem.Unmap(RequiredInteger(e, "addr"), RequiredInteger(e, "len")));
            case "mprotect":
                return Ret(mem.Protect(RequiredInteger(e, "addr"), RequiredInteger(e, "len"), ParseProt(e)));
            case "write":
            {
                ulong addr = RequiredInteger(e, "addr");
                byte[] bytes = ParseHex(RequiredString(e, "hex"), "hex");
                return Ret(mem.CopyToUser(addr, bytes));
            }
            case "read":
            {
                ulong addr = RequiredInteger(e, "addr");
                var bytes = new byte[RequiredInteger(e, "len", 1 << 20)];
                int rc = mem.CopyFromUser(bytes, addr);
                if (rc < 0) return Ret(rc);
                string hex = Convert.ToHexStringLower(bytes);
                return w => w.WriteString("hex", hex);
            }
            case "ioctl":
            {
                int fd = checked((int)RequiredInteger(e, "fd", int.MaxValue));
                uint cmd = checked((uint)RequiredInteger(e, "cmd", uint.MaxValue));
                ulong arg = e.TryGetProperty("arg", out _) ? RequiredInteger(e, "arg") : 0;
                return Ret(Process.Ioctl(fd, cmd, arg));
            }
            case "sysfs_read":
            {
                int rc = Kernel.Sysfs.Read(RequiredString(e, "path"), out var value);
                if (rc < 0) return Ret(rc);
                return w => w.WriteString("value", value);
            }
            case "sysfs_write":
                return Ret(Kernel.Sysfs.Write(RequiredString(e, "path"), RequiredString(e, "value")));
            default:
                throw new ReplayInputException($"unknown op '{op}' (open, close, mmap, munmap, mprotect, write, read, ioctl, sysfs_read, sysfs_write)");
        }
    }

    private static Action<Utf8JsonWriter> Ret(long rc) => w =>
    {
        w.WriteNumber("ret", rc);
        if (rc < 0) w.WriteString("errno", ErrnoNames.NameOf(rc));
    };

    private static Prot ParseProt(JsonElement e) => RequiredString(e, "prot") switch
    {
        "r" => Prot.Read,
        "rw" => Prot.ReadWrite,
        "none" => Prot.None,
        var p => throw new ReplayInputException($"field 'prot': '{p}' is not r, rw or none"),
    };

    private static string RequiredString(JsonElement e, string name)
    {
        if (!e.TryGetProperty(name, out var v)) throw new ReplayInputException($"missing field '{name}'");
        if (v.ValueKind != JsonValueKind.String) throw new ReplayInputException($"field '{name}' must be a string");
        return v.GetString()!;
    }

    /// <summary>An unsigned integer given as a JSON number or a string ("0x…" hex or decimal).</summary>
    private static ulong RequiredInteger(JsonElement e, string name, ulong max = ulong.MaxValue)
    {
        if (!e.TryGetProperty(name, out var v)) throw new ReplayInputException($"missing field '{name}'");
        ulong value;
        switch (v.ValueKind)
        {
            case JsonValueKind.Number when v.TryGetUInt64(out value):
                break;
            case JsonValueKind.String when TryParseInteger(v.GetString()!, out value):
                break;
            default:
                throw new ReplayInputException($"field '{name}' must be a non-negative integer or a \"0x…\" string");
        }
        if (value > max) throw new ReplayInputException($"field '{name}' is too large ({value} > {max})");
        return value;
    }

    private static bool TryParseInteger(string s, out ulong value)
    {
        if (s.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            return ulong.TryParse(s.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value) && s.Length > 2;
        return ulong.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }

    private static byte[] ParseHex(string hex, string field)
    {
        var h = hex.Replace(" ", "", StringComparison.Ordinal);
        if (h.StartsWith("0x", StringComparison.OrdinalIgnoreCase)) h = h[2..];
        if (h.Length % 2 != 0) throw new ReplayInputException($"field '{field}': odd number of hex digits");
        try { return Convert.FromHexString(h); }
        catch (FormatException) { throw new ReplayInputException($"field '{field}': not hex"); }
    }

    private static string FirstSentence(string message)
    {
        int i = message.IndexOf(". ", StringComparison.Ordinal);
        return i < 0 ? message : message[..(i + 1)];
    }
}

/// <summary>A replay line that names a bad field or op: answered as {"line":N,"error":…}.</summary>
public sealed class ReplayInputException(string message) : Exception(message);
