using System.Text.Json;
using TsmLab.Abi;
using TsmLab.Kernel;
using TsmLab.Tdisp.Device;

namespace TsmLab.Hosts;

/// <summary>
/// A host described in a JSON file (docs/hosts.md): which built-in platform host it starts from,
/// its name, ABI profile, and the TDISP device behind its functions (a device configuration file,
/// docs/tdisp.md). Every problem is reported as a <see cref="HostFileException"/> naming the field.
/// </summary>
public static class HostFile
{
    /// <summary>Reads and builds the host configuration in <paramref name="path"/>.</summary>
    public static HostConfiguration Load(string path)
    {
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new HostFileException($"cannot read host file '{path}' ({e.Message.TrimEnd('.')})");
        }
        JsonDocument doc;
        try { doc = JsonDocument.Parse(text, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }); }
        catch (JsonException e) { throw new HostFileException($"host file '{path}' is not JSON: {e.Message}"); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new HostFileException($"host file '{path}': the top level must be an object");
            foreach (var p in root.EnumerateObject())
                if (p.Name is not ("name" or "base" or "profile" or "device" or "description"))
                    throw new HostFileException($"host file '{path}': unknown field '{p.Name}' (name, base, profile, device, description)");
            string baseName = String(root, "base", path) ?? throw new HostFileException($"host file '{path}': missing field 'base' (one of {string.Join(", ", BuiltInHosts.Names)})");
            var config = BuiltInHosts.Find(baseName) ?? throw new HostFileException($"host file '{path}': field 'base': unknown host '{baseName}' (one of {string.Join(", ", BuiltInHosts.Names)})");
            if (String(root, "name", path) is { } name) config = config with { Name = name };
            if (String(root, "description", path) is { } description) config = config with { Description = description };
            if (String(root, "profile", path) is { } profile)
            {
                if (!TsmAbiProfiles.TryParse(profile, out var p)) throw new HostFileException($"host file '{path}': field 'profile': '{profile}' is not op-arch or scope");
                config = config with { Profile = p };
            }
            if (String(root, "device", path) is { } devicePath)
                config = WithDevice(config, Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".", devicePath), path);
            return config;
        }
    }

    /// <summary>The same host with another TDISP device: its functions, one device model behind them, and the connect moved to its PF0.</summary>
    private static HostConfiguration WithDevice(HostConfiguration config, string devicePath, string hostPath)
    {
        TdispPciDevice card;
        try
        {
            card = new TdispPciDevice(DeviceConfiguration.FromJson(File.ReadAllText(devicePath)));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new HostFileException($"host file '{hostPath}': field 'device': cannot read '{devicePath}' ({e.Message.TrimEnd('.')})");
        }
        catch (Exception e) when (e is DeviceConfigurationException or JsonException or ArgumentException)
        {
            throw new HostFileException($"host file '{hostPath}': field 'device': '{devicePath}' is not a valid device configuration: {e.Message.TrimEnd('.')}");
        }
        var functions = card.Functions;
        var connects = config.Connects.Select(c => (functions[0].Address, c.Tsm)).ToList();
        return config with { Functions = functions, Devices = [card], Connects = connects };
    }

    private static string? String(JsonElement e, string name, string path)
    {
        if (!e.TryGetProperty(name, out var v)) return null;
        if (v.ValueKind != JsonValueKind.String) throw new HostFileException($"host file '{path}': field '{name}' must be a string");
        return v.GetString();
    }
}

/// <summary>A host file that cannot be used; the message names the file and the field.</summary>
public sealed class HostFileException(string message) : Exception(message);
