using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using TsmLab.Input;
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
    public void Run(TextReader input, TextWriter output) => Run(new BoundedLineReader(input), output);

    /// <summary>Runs every line of <paramref name="input"/>; a line over its cap is answered with an error and skipped.</summary>
    public void Run(BoundedLineReader input, TextWriter output)
    {
        while (input.TryReadLine(out var line, out bool tooLong))
        {
            string? answer = tooLong ? TooLong(input.MaxLineLength) : Execute(line);
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
            var root = JsonInput.Parse(line, origin: null, relaxed: false).AsObject("a line must be a JSON object");
            string op = root.String("op");
            // Validate and act first, so an input error never leaves a half-written answer.
            var result = Dispatch(op, root);
            w.WriteString("op", op);
            result(w);
        }
        catch (JsonInputException e)
        {
            w.Reset(buffer);
            buffer.Clear();
            w.WriteStartObject();
            w.WriteNumber("line", lineNumber);
            w.WriteString("error", e.Field.Length == 0 && e.Detail.StartsWith("not valid JSON (", StringComparison.Ordinal)
                ? "malformed JSON: " + e.Detail["not valid JSON (".Length..^1]
                : e.Detail);
        }
        w.WriteEndObject();
        w.Flush();
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private string TooLong(int max)
    {
        lineNumber++;
        return $"{{\"line\":{lineNumber.ToString(CultureInfo.InvariantCulture)},\"error\":\"line is longer than {max.ToString(CultureInfo.InvariantCulture)} characters\"}}";
    }

    private Action<Utf8JsonWriter> Dispatch(string op, JsonInputObject e)
    {
        var mem = Process.Memory;
        switch (op)
        {
            case "open":
            {
                int fd = Process.Open(e.String("path"));
                return fd >= 0 ? w => w.WriteNumber("fd", fd) : Ret(fd);
            }
            case "close":
                return Ret(Process.Close((int)e.Integer("fd", 0, int.MaxValue)));
            case "mmap":
                return Ret(mem.Map(e.Integer("addr"), e.Integer("len"), ParseProt(e)));
            case "munmap":
                return Ret(mem.Unmap(e.Integer("addr"), e.Integer("len")));
            case "mprotect":
                return Ret(mem.Protect(e.Integer("addr"), e.Integer("len"), ParseProt(e)));
            case "write":
            {
                ulong addr = e.Integer("addr");
                byte[] bytes = e.Required("hex").AsHex();
                return Ret(mem.CopyToUser(addr, bytes));
            }
            case "read":
            {
                ulong addr = e.Integer("addr");
                var bytes = new byte[e.Integer("len", 0, 1 << 20)];
                int rc = mem.CopyFromUser(bytes, addr);
                if (rc < 0) return Ret(rc);
                string hex = Convert.ToHexStringLower(bytes);
                return w => w.WriteString("hex", hex);
            }
            case "ioctl":
            {
                int fd = (int)e.Integer("fd", 0, int.MaxValue);
                uint cmd = (uint)e.Integer("cmd", 0, uint.MaxValue);
                ulong arg = e.Find("arg") is { } a ? a.AsInteger() : 0;
                return Ret(Process.Ioctl(fd, cmd, arg));
            }
            case "sysfs_read":
            {
                int rc = Kernel.Sysfs.Read(e.String("path"), out var value);
                if (rc < 0) return Ret(rc);
                return w => w.WriteString("value", value);
            }
            case "sysfs_write":
                return Ret(Kernel.Sysfs.Write(e.String("path"), e.String("value")));
            default:
                throw e.Required("op").Error($"unknown op '{Printable.Of(op)}' (open, close, mmap, munmap, mprotect, write, read, ioctl, sysfs_read, sysfs_write)");
        }
    }

    private static Action<Utf8JsonWriter> Ret(long rc) => w =>
    {
        w.WriteNumber("ret", rc);
        if (rc < 0) w.WriteString("errno", ErrnoNames.NameOf(rc));
    };

    private static Prot ParseProt(JsonInputObject e)
    {
        var v = e.Required("prot");
        return v.AsString() switch
        {
            "r" => Prot.Read,
            "rw" => Prot.ReadWrite,
            "none" => Prot.None,
            var p => throw v.Error($"field 'prot': '{Printable.Of(p)}' is not r, rw or none"),
        };
    }
}
