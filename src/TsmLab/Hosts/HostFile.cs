using TsmLab.Abi;
using TsmLab.Input;
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
        byte[] bytes;
        try { bytes = InputFile.ReadAllBytes(path, "host file"); }
        catch (InputFileException e) { throw new HostFileException(e.Message); }
        return Parse(bytes, path);
    }

    /// <summary>Builds the host configuration from a host file's bytes; <paramref name="path"/> names it and anchors a relative device path.</summary>
    public static HostConfiguration Parse(ReadOnlySpan<byte> bytes, string path)
    {
        string origin = $"host file '{Printable.Of(path)}'";
        try
        {
            var root = JsonInput.Parse(bytes, origin, relaxed: true).AsObject("the top level must be an object");
            var baseValue = root.Find("base") ?? throw root.Value.Error($"missing field 'base' (one of {string.Join(", ", BuiltInHosts.Names)})");
            string baseName = baseValue.AsString();
            var config = BuiltInHosts.Find(baseName) ?? throw baseValue.Error($"field 'base': unknown host '{Printable.Of(baseName)}' (one of {string.Join(", ", BuiltInHosts.Names)})");
            if (Text(root, "name") is { } name) config = config with { Name = name };
            if (Text(root, "description") is { } description) config = config with { Description = description };
            if (root.Find("profile") is { } profileValue)
            {
                string profile = profileValue.AsString();
                if (!TsmAbiProfiles.TryParse(profile, out var p)) throw profileValue.Error($"field 'profile': '{Printable.Of(profile)}' is not op-arch or scope");
                config = config with { Profile = p };
            }
            if (root.Find("device") is { } deviceValue)
            {
                string devicePath = deviceValue.AsString();
                config = WithDevice(config, Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".", devicePath), deviceValue);
            }
            if (root.Find("doe") is { } doeValue) config = WithRemoteDoe(config, doeValue.AsString(), doeValue);
            if (root.Find("spdmRoot") is { } rootValue)
                config = WithSpdmRoot(config, Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".", rootValue.AsString()), rootValue);
            root.RejectUnknown();
            return config;
        }
        catch (JsonInputException e) { throw new HostFileException(e.Message); }
    }

    /// <summary>A name or description: printable text (no control characters that would reach a terminal raw).</summary>
    private static string? Text(JsonInputObject root, string field)
    {
        if (root.Find(field) is not { } v) return null;
        string s = v.AsString();
        if (!Printable.IsClean(s)) throw v.Error($"field '{field}' contains a control or invisible formatting character ('{Printable.Of(s)}')");
        return s;
    }

    /// <summary>The DSM's DOE mailbox on the far side of DMTF's emulator socket protocol ("tcp:HOST:PORT", <see cref="RemoteDsm"/>); unreachable is a host-file error.</summary>
    private static HostConfiguration WithRemoteDoe(HostConfiguration config, string endpoint, JsonInputValue field)
    {
        if (!RemoteDsm.TryParse(endpoint, out string host, out int port))
            throw field.Error($"field 'doe': '{Printable.Of(endpoint)}' is not tcp:HOST:PORT");
        return RemoteDsm.Connect(config, host, port, null, leaveRunning: false, out _, out string problem)
            ?? throw field.Error($"field 'doe': {problem}");
    }

    /// <summary>The root certificate (DER or PEM) the host provisions for the DSM's SPDM chain.</summary>
    private static HostConfiguration WithSpdmRoot(HostConfiguration config, string rootPath, JsonInputValue field)
    {
        var root = Spdm.Responder.SpdmIdentityFiles.ReadCertificateFile(rootPath, "SPDM root certificate", out string problem)
            ?? throw field.Error($"field 'spdmRoot': {problem}");
        var functions = config.Functions.Select(f => f.Doe is null ? f : f with { SpdmRoot = root }).ToArray();
        return config with { Functions = functions };
    }

    /// <summary>The same host with another TDISP device: its functions, one device model behind them, and the connect moved to its PF0.</summary>
    private static HostConfiguration WithDevice(HostConfiguration config, string devicePath, JsonInputValue field)
    {
        TdispPciDevice card;
        try
        {
            card = new TdispPciDevice(DeviceConfiguration.FromFile(devicePath));
        }
        catch (InputFileException e)
        {
            throw field.Error($"field 'device': {e.Message}");
        }
        catch (Exception e) when (e is DeviceConfigurationException or ArgumentException)
        {
            throw field.Error($"field 'device': not a valid device configuration: {e.Message.TrimEnd('.')}");
        }
        var functions = card.Functions;
        var connects = config.Connects.Select(c => (functions[0].Address, c.Tsm)).ToList();
        return config with { Functions = functions, Devices = [card], Connects = connects };
    }
}

/// <summary>A host file that cannot be used; the message names the file and the field.</summary>
public sealed class HostFileException(string message) : Exception(message);
