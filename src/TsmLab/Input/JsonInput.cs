using System.Globalization;
using System.Text;
using System.Text.Json;

namespace TsmLab.Input;

/// <summary>What a JSON input value is.</summary>
public enum JsonInputKind
{
    Object,
    Array,
    String,
    Number,
    True,
    False,
    Null,
}

/// <summary>
/// The one way TsmLab reads JSON from outside (replay lines, host files, device files): the text
/// is parsed once with <see cref="Utf8JsonReader"/> into a small tree that remembers each value's
/// line and path, so every later complaint — wrong kind, out of range, missing, unknown, bad text
/// — is a <see cref="JsonInputException"/> naming the input, the line and the field. Bounded: the
/// caller's byte cap, a nesting depth of <see cref="MaxDepth"/>, no duplicate keys. Strings that
/// are not valid text (a lone UTF-16 surrogate escape, invalid UTF-8) are refused where they stand.
/// </summary>
public static class JsonInput
{
    /// <summary>The deepest nesting accepted (objects and arrays).</summary>
    public const int MaxDepth = 32;

    /// <summary>
    /// Parses <paramref name="utf8"/>. <paramref name="origin"/> names the input in messages (null
    /// for a replay line); <paramref name="relaxed"/> allows comments and trailing commas (files).
    /// </summary>
    public static JsonInputValue Parse(ReadOnlySpan<byte> utf8, string? origin, bool relaxed)
    {
        var lines = new LineIndex(utf8);
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions
        {
            CommentHandling = relaxed ? JsonCommentHandling.Skip : JsonCommentHandling.Disallow,
            AllowTrailingCommas = relaxed,
            MaxDepth = MaxDepth,
        });
        try
        {
            if (!reader.Read()) throw new JsonInputException(origin, 1, "", "empty input (expected a JSON value)");
            var root = ReadValue(ref reader, origin, lines, "");
            if (reader.Read()) throw new JsonInputException(origin, lines.LineOf(reader.TokenStartIndex), "", "not valid JSON (more text after the first value)");
            return root;
        }
        catch (JsonException e)
        {
            throw new JsonInputException(origin, (int)Math.Min(int.MaxValue, (e.LineNumber ?? 0) + 1), "", $"not valid JSON ({FirstSentence(e.Message)})");
        }
    }

    /// <summary>Parses <paramref name="text"/> (a string already decoded from the input).</summary>
    public static JsonInputValue Parse(string text, string? origin, bool relaxed) => Parse(Encoding.UTF8.GetBytes(text), origin, relaxed);

    private static JsonInputValue ReadValue(ref Utf8JsonReader r, string? origin, LineIndex lines, string path)
    {
        int line = lines.LineOf(r.TokenStartIndex);
        switch (r.TokenType)
        {
            case JsonTokenType.StartObject:
            {
                var members = new List<KeyValuePair<string, JsonInputValue>>();
                var seen = new HashSet<string>(StringComparer.Ordinal);
                while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
                {
                    int nameLine = lines.LineOf(r.TokenStartIndex);
                    string name = Text(ref r, origin, nameLine, path, "has a member name that");
                    string childPath = path.Length == 0 ? name : $"{path}.{name}";
                    if (!seen.Add(name)) throw new JsonInputException(origin, nameLine, childPath, $"field '{Printable.Of(childPath)}' appears twice");
                    r.Read();
                    members.Add(new(name, ReadValue(ref r, origin, lines, childPath)));
                }
                return new JsonInputValue(origin, JsonInputKind.Object, line, path, null, members, null);
            }
            case JsonTokenType.StartArray:
            {
                var items = new List<JsonInputValue>();
                while (r.Read() && r.TokenType != JsonTokenType.EndArray)
                    items.Add(ReadValue(ref r, origin, lines, $"{path}[{items.Count}]"));
                return new JsonInputValue(origin, JsonInputKind.Array, line, path, null, null, items);
            }
            case JsonTokenType.String:
                return new JsonInputValue(origin, JsonInputKind.String, line, path, Text(ref r, origin, line, path, "is a string that"), null, null);
            case JsonTokenType.Number:
                return new JsonInputValue(origin, JsonInputKind.Number, line, path, Encoding.ASCII.GetString(r.ValueSpan), null, null);
            case JsonTokenType.True:
                return new JsonInputValue(origin, JsonInputKind.True, line, path, null, null, null);
            case JsonTokenType.False:
                return new JsonInputValue(origin, JsonInputKind.False, line, path, null, null, null);
            default:
                return new JsonInputValue(origin, JsonInputKind.Null, line, path, null, null, null);
        }
    }

    private static string Text(ref Utf8JsonReader r, string? origin, int line, string path, string what)
    {
        try { return r.GetString()!; }
        catch (InvalidOperationException)
        {
            string field = path.Length == 0 ? "the top level" : $"field '{Printable.Of(path)}'";
            throw new JsonInputException(origin, line, path, $"{field} {what} is not valid text (a lone UTF-16 surrogate escape, or invalid UTF-8)");
        }
    }

    private static string FirstSentence(string message)
    {
        int i = message.IndexOf(". ", StringComparison.Ordinal);
        return (i < 0 ? message : message[..i]).TrimEnd('.');
    }

    /// <summary>Line numbers from byte offsets: the offsets of every newline, searched in halves.</summary>
    private sealed class LineIndex
    {
        private readonly int[] newlines;

        public LineIndex(ReadOnlySpan<byte> text)
        {
            var list = new List<int>();
            for (int i = text.IndexOf((byte)'\n'); i >= 0;)
            {
                list.Add(i);
                int next = text[(i + 1)..].IndexOf((byte)'\n');
                i = next < 0 ? -1 : i + 1 + next;
            }
            newlines = [.. list];
        }

        public int LineOf(long offset)
        {
            int i = Array.BinarySearch(newlines, (int)Math.Min(offset, int.MaxValue));
            return (i < 0 ? ~i : i) + 1;
        }
    }
}

/// <summary>
/// One value of a JSON input with its line and path. Typed reads check the kind and range and
/// throw a <see cref="JsonInputException"/> naming the field; nothing here throws anything else.
/// </summary>
public sealed class JsonInputValue
{
    private readonly string? text;
    private readonly List<KeyValuePair<string, JsonInputValue>>? members;
    private readonly List<JsonInputValue>? items;

    internal JsonInputValue(string? origin, JsonInputKind kind, int line, string path, string? text,
        List<KeyValuePair<string, JsonInputValue>>? members, List<JsonInputValue>? items)
    {
        Origin = origin;
        Kind = kind;
        Line = line;
        Path = path;
        this.text = text;
        this.members = members;
        this.items = items;
    }

    public string? Origin { get; }
    public JsonInputKind Kind { get; }
    public int Line { get; }
    /// <summary>Where the value is: <c>msix.tableOffset</c>, <c>bars[0]</c>; empty for the top level.</summary>
    public string Path { get; }

    /// <summary>How messages name the value: <c>field 'x'</c>, or <c>the top level</c>.</summary>
    public string Name => Path.Length == 0 ? "the top level" : $"field '{Printable.Of(Path)}'";

    /// <summary>An error about this value: <paramref name="detail"/> should name it (see <see cref="Name"/>).</summary>
    public JsonInputException Error(string detail) => new(Origin, Line, Path, detail);

    /// <summary>The members of an object, in input order.</summary>
    public JsonInputObject AsObject(string? wrongKind = null) =>
        Kind == JsonInputKind.Object ? new JsonInputObject(this, members!) : throw Error(wrongKind ?? $"{Name} must be an object");

    /// <summary>The items of an array.</summary>
    public IReadOnlyList<JsonInputValue> AsArray() =>
        Kind == JsonInputKind.Array ? items! : throw Error($"{Name} must be an array");

    public string AsString() =>
        Kind == JsonInputKind.String ? text! : throw Error($"{Name} must be a string");

    public bool AsBool() => Kind switch
    {
        JsonInputKind.True => true,
        JsonInputKind.False => false,
        _ => throw Error($"{Name} must be true or false"),
    };

    /// <summary>
    /// An unsigned integer in [<paramref name="min"/>, <paramref name="max"/>]: a JSON number
    /// without sign, fraction or exponent, or a string of decimal digits or <c>0x</c> hex
    /// (underscores allowed between digits).
    /// </summary>
    public ulong AsInteger(ulong min = 0, ulong max = ulong.MaxValue)
    {
        ulong value;
        bool ok = Kind switch
        {
            JsonInputKind.Number => ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value),
            JsonInputKind.String => TryParseInteger(text!, out value),
            _ => (value = 0) != 0,
        };
        if (!ok) throw Error($"{Name} must be a non-negative integer or a \"0x…\" string");
        if (value > max) throw Error($"{Name} is too large ({value} > {max})");
        if (value < min) throw Error($"{Name} is too small ({value} < {min})");
        return value;
    }

    /// <summary>Bytes from a hex string (spaces and one leading <c>0x</c> allowed).</summary>
    public byte[] AsHex()
    {
        var h = AsString().Replace(" ", "", StringComparison.Ordinal);
        if (h.StartsWith("0x", StringComparison.OrdinalIgnoreCase)) h = h[2..];
        if (h.Length % 2 != 0) throw Error($"{Name}: odd number of hex digits");
        try { return Convert.FromHexString(h); }
        catch (FormatException) { throw Error($"{Name}: not hex"); }
    }

    /// <summary>Decimal digits, or <c>0x</c> then hex digits; underscores between digits are ignored.</summary>
    public static bool TryParseInteger(string s, out ulong value)
    {
        value = 0;
        var t = s.Replace("_", "", StringComparison.Ordinal);
        if (t.Length == 0 || s.StartsWith('_') || s.EndsWith('_')) return false;
        if (t.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            return t.Length > 2 && !s.StartsWith("0x_", StringComparison.OrdinalIgnoreCase) &&
                   ulong.TryParse(t.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
        return ulong.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }
}

/// <summary>
/// An object of a JSON input, read field by field. Each lookup is remembered, so
/// <see cref="RejectUnknown"/> can refuse every member nobody asked for, listing the known ones.
/// </summary>
public sealed class JsonInputObject
{
    private readonly List<KeyValuePair<string, JsonInputValue>> members;
    private readonly List<string> asked = new();

    internal JsonInputObject(JsonInputValue value, List<KeyValuePair<string, JsonInputValue>> members)
    {
        Value = value;
        this.members = members;
    }

    public JsonInputValue Value { get; }

    /// <summary>The members, in input order.</summary>
    public IReadOnlyList<KeyValuePair<string, JsonInputValue>> Members => members;

    /// <summary>The member called <paramref name="name"/>, or null when absent.</summary>
    public JsonInputValue? Find(string name)
    {
        if (!asked.Contains(name)) asked.Add(name);
        foreach (var m in members)
            if (m.Key == name) return m.Value;
        return null;
    }

    /// <summary>True when the member is present (and counts as known).</summary>
    public bool Has(string name) => Find(name) is not null;

    public JsonInputValue Required(string name) =>
        Find(name) ?? throw Value.Error($"missing field '{Printable.Of(ChildPath(name))}'");

    public string String(string name) => Required(name).AsString();
    public string? OptionalString(string name) => Find(name)?.AsString();
    public ulong Integer(string name, ulong min = 0, ulong max = ulong.MaxValue) => Required(name).AsInteger(min, max);
    public ulong Integer(string name, ulong min, ulong max, ulong fallback) => Find(name) is { } v ? v.AsInteger(min, max) : fallback;
    public bool Bool(string name, bool fallback) => Find(name) is { } v ? v.AsBool() : fallback;
    public JsonInputObject Object(string name) => Required(name).AsObject();
    public JsonInputObject? OptionalObject(string name) => Find(name)?.AsObject();
    public IReadOnlyList<JsonInputValue> Array(string name) => Required(name).AsArray();
    public IReadOnlyList<JsonInputValue>? OptionalArray(string name) => Find(name)?.AsArray();

    /// <summary>Refuses the first member not asked for so far: "unknown field 'x' (known: a, b)".</summary>
    public void RejectUnknown()
    {
        foreach (var m in members)
            if (!asked.Contains(m.Key))
                throw m.Value.Error($"unknown field '{Printable.Of(m.Value.Path)}' (known: {string.Join(", ", asked)})");
    }

    private string ChildPath(string name) => Value.Path.Length == 0 ? name : $"{Value.Path}.{name}";
}
