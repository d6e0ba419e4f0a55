using System.Globalization;
using System.Text;
using System.Text.Json;
using TsmLab.Platforms;

namespace TsmLab.Cli;

/// <summary>
/// Prints a platform's interface tables: as text for people, or as one JSON object
/// <c>{"platform","revision","sources","calls":[{interface,name,id}],"enums":[{name,values:{NAME:value}}],
/// "structs":[{name,size,fields:[{name,offset,size}],tsmlab_definition}]}</c> for tools.
/// </summary>
internal static class PlatformAbiText
{
    public static string Json(PlatformAbi abi)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            w.WriteString("platform", abi.Platform);
            w.WriteString("revision", abi.Revision);
            w.WriteStartArray("sources");
            foreach (var s in abi.Sources) w.WriteStringValue(s);
            w.WriteEndArray();
            w.WriteStartArray("calls");
            foreach (var c in abi.Calls)
            {
                w.WriteStartObject();
                w.WriteString("interface", c.Interface);
                w.WriteString("name", c.Name);
                w.WriteString("id", $"0x{c.Id:x}");
                w.WriteBoolean("tsmlab_definition", c.TsmLabDefinition);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("enums");
            foreach (var e in abi.Enums)
            {
                w.WriteStartObject();
                w.WriteString("name", e.Name);
                w.WriteStartObject("values");
                foreach (var v in e.Values) w.WriteNumber(v.Key, v.Value);
                w.WriteEndObject();
                w.WriteBoolean("tsmlab_definition", e.TsmLabDefinition);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("structs");
            foreach (var s in abi.Structs)
            {
                w.WriteStartObject();
                w.WriteString("name", s.Name);
                w.WriteNumber("size", s.Size);
                w.WriteStartArray("fields");
                foreach (var f in s.Fields)
                {
                    w.WriteStartObject();
                    w.WriteString("name", f.Name);
                    w.WriteNumber("offset", f.Offset);
                    w.WriteNumber("size", f.Size);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteBoolean("tsmlab_definition", s.TsmLabDefinition);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray()) + "\n";
    }

    public static string Text(PlatformAbi abi)
    {
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        sb.AppendLine(inv, $"platform {abi.Platform}");
        sb.AppendLine(inv, $"revision {abi.Revision}");
        foreach (var s in abi.Sources) sb.AppendLine(inv, $"source   {s}");
        sb.AppendLine();
        sb.AppendLine("calls");
        foreach (var c in abi.Calls)
            sb.AppendLine(inv, $"  {c.Interface,-8} {c.Name,-40} 0x{c.Id:x}{(c.TsmLabDefinition ? "  (TsmLab definition)" : "")}");
        sb.AppendLine();
        sb.AppendLine("enums");
        foreach (var e in abi.Enums)
        {
            sb.AppendLine(inv, $"  {e.Name}{(e.TsmLabDefinition ? "  (TsmLab definition)" : "")}");
            foreach (var v in e.Values) sb.AppendLine(inv, $"    {v.Key,-44} {v.Value}");
        }
        sb.AppendLine();
        sb.AppendLine("structs");
        foreach (var s in abi.Structs)
        {
            sb.AppendLine(inv, $"  {s.Name} (size {s.Size}){(s.TsmLabDefinition ? "  (TsmLab definition)" : "")}");
            foreach (var f in s.Fields) sb.AppendLine(inv, $"    +0x{f.Offset:x4} {f.Size,5}  {f.Name}");
        }
        return sb.ToString();
    }
}
