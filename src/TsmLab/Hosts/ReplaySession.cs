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

    /// <summary>A replay op: what it does with its line, answering with the writer of its result fields.</summary>
    private delegate Action<Utf8JsonWriter> ReplayHandler(ReplaySession session, JsonInputObject line);

    /// <summary>One replay op: its name (the line's <c>op</c>) and its handler.</summary>
    private sealed record ReplayOp(string Name, ReplayHandler Handler);

    /// <summary>The replay ops, one row each (docs/replay.md); the unknown-op error lists them from here.</summary>
    private static readonly ReplayOp[] Ops =
    [
        new("open", static (s, e) =>
        {
            int fd = s.Process.Open(e.String("path"));
            return fd >= 0 ? w => w.WriteNumber("fd", fd) : Ret(fd);
        }),
        new("close", static (s, e) => Ret(s.Process.Close((int)e.Integer("fd", 0, int.MaxValue)))),
        new("mmap", static (s, e) => Ret(s.Process.Memory.Map(e.Integer("addr"), e.Integer("len"), ParseProt(e)))),
        new("munmap", static (s, e) => Ret(s.Process.Memory.Unmap(e.Integer("addr"), e.Integer("len")))),
        new("mprotect", static (s, e) => Ret(s.Process.Memory.Protect(e.Integer("addr"), e.Integer("len"), ParseProt(e)))),
        new("write", static (s, e) =>
        {
            ulong addr = e.Integer("addr");
            byte[] bytes = e.Required("hex").AsHex();
            return Ret(s.Process.Memory.CopyToUser(addr, bytes));
        }),
        new("read", static (s, e) =>
        {
            ulong addr = e.Integer("addr");
            var bytes = new byte[e.Integer("len", 0, 1 << 20)];
            int rc = s.Process.Memory.CopyFromUser(bytes, addr);
            if (rc < 0) return Ret(rc);
            string hex = Convert.ToHexStringLower(bytes);
            return w => w.WriteString("hex", hex);
        }),
        new("ioctl", static (s, e) =>
        {
            int fd = (int)e.Integer("fd", 0, int.MaxValue);
            uint cmd = (uint)e.Integer("cmd", 0, uint.MaxValue);
            ulong arg = e.Find("arg") is { } a ? a.AsInteger() : 0;
            return Ret(s.Process.Ioctl(fd, cmd, arg));
        }),
        new("sysfs_read", static (s, e) =>
        {
            int rc = s.Kernel.Sysfs.Read(e.String("path"), out var value);
            if (rc < 0) return Ret(rc);
            return w => w.WriteString("value", value);
        }),
        new("sysfs_write", static (s, e) => Ret(s.Kernel.Sysfs.Write(e.String("path"), e.String("value")))),
    ];

    /// <summary>The op names, in table order.</summary>
    public static IReadOnlyList<string> OpNames { get; } = [.. Ops.Select(o => o.Name)];

    private Action<Utf8JsonWriter> Dispatch(string op, JsonInputObject e)
    {
        foreach (var row in Ops)
            if (row.Name == op) return row.Handler(this, e);
        throw e.Required("op").Error($"unknown op '{Printable.Of(op)}' ({string.Join(", ", OpNames)})");
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
