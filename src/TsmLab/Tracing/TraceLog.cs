using System.Text.Json;

namespace TsmLab.Tracing;

/// <summary>
/// The events of one run, in order. Layers record into it only when one is attached (a null
/// check on the hot path otherwise); it writes JSON Lines for <c>--trace</c>.
/// </summary>
public sealed class TraceLog
{
    private readonly List<TraceEvent> events = new();
    private readonly Lock gate = new();
    private long seq;

    /// <summary>Where the DOE objects the host relays are captured (pcap), or null; follows the log onto every machine it is attached to.</summary>
    public PcapWriter? DoeCapture { get; init; }

    public IReadOnlyList<TraceEvent> Events
    {
        get { lock (gate) return events.ToArray(); }
    }

    /// <summary>Records one event and returns it.</summary>
    public TraceEvent Record(TraceLayer from, TraceLayer to, TraceKind kind, string name, string result, params TraceField[] fields) =>
        Record(Reserve(), from, to, kind, name, result, fields);

    /// <summary>
    /// Takes the next sequence number now for an event recorded later: a call is numbered when it
    /// starts, so what happens inside it (decisions, firmware calls) follows it in the trace.
    /// </summary>
    public long Reserve() => Interlocked.Increment(ref seq);

    /// <summary>Records an event under a number from <see cref="Reserve"/>; events stay ordered by number.</summary>
    public TraceEvent Record(long reserved, TraceLayer from, TraceLayer to, TraceKind kind, string name, string result, params TraceField[] fields)
    {
        var e = new TraceEvent(reserved, from, to, kind, name, result, fields);
        lock (gate)
        {
            int i = events.Count;
            while (i > 0 && events[i - 1].Seq > reserved) i--;
            events.Insert(i, e);
        }
        return e;
    }

    /// <summary>One JSON object per line: seq, from, to, kind, name, result, fields.</summary>
    public void WriteJsonLines(TextWriter output)
    {
        foreach (var e in Events)
        {
            using var ms = new MemoryStream();
            using (var w = new Utf8JsonWriter(ms))
            {
                w.WriteStartObject();
                w.WriteNumber("seq", e.Seq);
                w.WriteString("layer", Name(e.From));
                w.WriteString("to", Name(e.To));
                w.WriteString("kind", KindName(e.Kind));
                w.WriteString("name", e.Name);
                w.WriteString("result", e.Result);
                w.WriteStartObject("fields");
                foreach (var f in e.Fields) w.WriteString(f.Name, f.Value);
                w.WriteEndObject();
                w.WriteEndObject();
            }
            output.WriteLine(System.Text.Encoding.UTF8.GetString(ms.ToArray()));
        }
    }

    public static string Name(TraceLayer layer) => layer switch
    {
        TraceLayer.Guest => "guest",
        TraceLayer.Vmm => "vmm",
        TraceLayer.Kernel => "kernel",
        TraceLayer.TsmCore => "tsm-core",
        TraceLayer.Firmware => "firmware",
        _ => "device",
    };

    public static string KindName(TraceKind kind) => kind switch
    {
        TraceKind.GuestExit => "guest-exit",
        TraceKind.Ioctl => "ioctl",
        TraceKind.Decision => "decision",
        TraceKind.Rejection => "rejection",
        TraceKind.FirmwareCall => "firmware-call",
        TraceKind.DeviceMessage => "device-message",
        _ => "state-change",
    };
}
