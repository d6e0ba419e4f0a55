using System.CommandLine;
using System.Text;
using System.Text.Json;
using TsmLab.Abi;
using TsmLab.Platforms;

namespace TsmLab.Cli;

/// <summary>
/// <c>tsmlab abi [--profile P] [--json | --header]</c>: every modelled ioctl, its number, struct and
/// fields, or the C header tsmlab-uapi.h;
/// <c>tsmlab abi --platform NAME [--json]</c>: a platform's firmware and guest interfaces (calls,
/// enumerations, structs) from the tables its model runs on.
/// </summary>
internal static class AbiCommand
{
    public static Command Create(CliIo io)
    {
        var profile = ChoiceOption.Create("--profile", "profile", "IOMMU_VDEVICE_TSM_REQ ABI profile", TsmAbiProfiles.Names, "op-arch");
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var header = new Option<bool>("--header") { Description = "Print the C header tsmlab-uapi.h (both TSM_REQ profiles, _Static_assert on every layout)" };
        string[] platforms = [.. PlatformRegistry.All.Where(p => p.Abi is not null).Select(p => p.Name)];
        var platform = ChoiceOption.Create("--platform", "platform", "Print a platform's firmware interfaces instead of the uAPI", platforms);
        var cmd = new Command("abi", "Print every ioctl of the modelled uAPI, or a platform's firmware interfaces: numbers, structs, fields");
        cmd.Options.Add(profile);
        cmd.Options.Add(json);
        cmd.Options.Add(platform);
        cmd.Options.Add(header);
        cmd.SetAction(pr =>
        {
            if (pr.GetValue(platform) is { } pname)
            {
                var abi = PlatformRegistry.Find(pname)!.Abi!; // the ChoiceOption offers only platforms with tables
                io.Out.Write(pr.GetValue(json) ? PlatformAbiText.Json(abi) : PlatformAbiText.Text(abi));
                return 0;
            }
            var p = TsmAbiProfiles.Parse(pr.GetValue(profile)!); // a ChoiceOption: other values were refused at parse time
            if (pr.GetValue(header))
            {
                if (pr.GetValue(json))
                {
                    io.Error.WriteLine("tsmlab abi: --header and --json exclude each other");
                    return Program.UsageError;
                }
                io.Out.Write(AbiHeader.Render());
                return 0;
            }
            io.Out.Write(pr.GetValue(json) ? Json(p) : Text(p));
            return 0;
        });
        return cmd;
    }

    internal static string Json(TsmAbiProfile profile)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            w.WriteString("profile", profile.Name());
            w.WriteStartArray("ioctls");
            foreach (var i in AbiCatalog.Ioctls(profile))
            {
                w.WriteStartObject();
                w.WriteString("name", i.Name);
                w.WriteString("number", $"0x{i.Number:x4}");
                if (i.Struct.Size == 0) w.WriteNull("struct"); else w.WriteString("struct", i.Struct.Name);
                w.WriteNumber("size", i.Struct.Size);
                w.WriteNumber("min_size", i.Struct.MinSize);
                w.WriteStartArray("fields");
                foreach (var f in i.Struct.Fields)
                {
                    w.WriteStartObject();
                    w.WriteString("name", f.Name);
                    w.WriteNumber("offset", f.Offset);
                    w.WriteNumber("size", f.Size);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray()) + "\n";
    }

    private static string Text(TsmAbiProfile profile)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"profile {profile.Name()}");
        foreach (var i in AbiCatalog.Ioctls(profile))
        {
            sb.AppendLine();
            sb.AppendLine(i.Struct.Size == 0
                ? $"{i.Name} 0x{i.Number:x4} on {i.Device}: no struct (argument by value)"
                : $"{i.Name} 0x{i.Number:x4} on {i.Device}: struct {i.Struct.Name}, size {i.Struct.Size}, min_size {i.Struct.MinSize}");
            foreach (var f in i.Struct.Fields) sb.AppendLine($"  {f.Offset,3}  {f.Size}  {f.Name}");
            sb.AppendLine($"  source: {i.Source}");
        }
        return sb.ToString();
    }
}
