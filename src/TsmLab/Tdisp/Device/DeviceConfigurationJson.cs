// Parses and validates the device configuration JSON (schema in docs/tdisp.md) with
// JsonDocument: no reflection-based serialization. Numbers may be JSON numbers or strings
// ("0x1000", "4096"). Every error names the offending field.
using System.Globalization;
using System.Text.Json;
using TsmLab.Tdisp.Wire;

namespace TsmLab.Tdisp.Device;

internal static class DeviceConfigurationJson
{
    private static readonly (string Name, TdispRequestCode Code)[] RequestNames =
    [
        ("GET_TDISP_VERSION", TdispRequestCode.GetTdispVersion),
        ("GET_TDISP_CAPABILITIES", TdispRequestCode.GetTdispCapabilities),
        ("LOCK_INTERFACE_REQUEST", TdispRequestCode.LockInterface),
        ("GET_DEVICE_INTERFACE_REPORT", TdispRequestCode.GetDeviceInterfaceReport),
        ("GET_DEVICE_INTERFACE_STATE", TdispRequestCode.GetDeviceInterfaceState),
        ("START_INTERFACE_REQUEST", TdispRequestCode.StartInterface),
        ("STOP_INTERFACE_REQUEST", TdispRequestCode.StopInterface),
        ("BIND_P2P_STREAM_REQUEST", TdispRequestCode.BindP2pStream),
        ("UNBIND_P2P_STREAM_REQUEST", TdispRequestCode.UnbindP2pStream),
        ("SET_MMIO_ATTRIBUTE_REQUEST", TdispRequestCode.SetMmioAttribute),
        ("VDM_REQUEST", TdispRequestCode.VdmRequest),
        ("SET_TDISP_CONFIG_REQUEST", TdispRequestCode.SetTdispConfig),
    ];

    public static DeviceConfiguration Parse(string json)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw new DeviceConfigurationException($"not valid JSON: {e.Message}");
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new DeviceConfigurationException("(root): expected an object");
            var cfg = new DeviceConfiguration(
                (byte)Number(root, "segment", "", 0, 0xFF, 0),
                (byte)Number(root, "bus", "", 0, 0xFF),
                (byte)Number(root, "device", "", 0, 31),
                (byte)Number(root, "function", "", 0, 7),
                (ushort)Number(root, "vendorId", "", 0, 0xFFFF),
                (ushort)Number(root, "deviceId", "", 0, 0xFFFF),
                Layout(root, ""),
                root.TryGetProperty("sriov", out var sriov) ? Sriov(sriov, "sriov.") : null,
                Tdisp(Object(root, "tdisp", ""), "tdisp."),
                Ide(Object(root, "ide", ""), "ide."),
                Identity(Object(root, "identity", ""), "identity."),
                Policy(root.TryGetProperty("policy", out var p) ? p : default, "policy."));
            Validate(cfg);
            return cfg;
        }
    }

    private static FunctionLayout Layout(JsonElement e, string path)
    {
        var bars = new List<BarConfiguration>();
        if (!e.TryGetProperty("bars", out var arr) || arr.ValueKind != JsonValueKind.Array)
            throw new DeviceConfigurationException($"{path}bars: expected an array");
        int i = 0;
        foreach (var b in arr.EnumerateArray())
        {
            string bp = $"{path}bars[{i++}].";
            bars.Add(new BarConfiguration(
                (int)Number(b, "index", bp, 0, 5),
                Number(b, "address", bp, 0, ulong.MaxValue),
                Number(b, "size", bp, 4096, 1UL << 63),
                Bool(b, "is64Bit", bp, true),
                Bool(b, "prefetchable", bp, false),
                Bool(b, "memAttrUpdatable", bp, false)));
        }
        MsixConfiguration? msix = null;
        if (e.TryGetProperty("msix", out var m))
        {
            string mp = path + "msix.";
            msix = new MsixConfiguration(
                (int)Number(m, "tableBar", mp, 0, 5),
                Number(m, "tableOffset", mp, 0, ulong.MaxValue),
                (int)Number(m, "tableSize", mp, 1, 2048),
                (int)Number(m, "pbaBar", mp, 0, 5),
                Number(m, "pbaOffset", mp, 0, ulong.MaxValue),
                (int)Number(m, "capabilityOffset", mp, 0x40, 0xFC, 0xB0));
        }
        return new FunctionLayout(bars, msix);
    }

    private static SriovConfiguration Sriov(JsonElement e, string path) => new(
        (int)Number(e, "count", path, 0, 255),
        (int)Number(e, "firstVfOffset", path, 1, 0xFFFF),
        (int)Number(e, "vfStride", path, 1, 0xFFFF, 1),
        (ushort)Number(e, "vfDeviceId", path, 0, 0xFFFF),
        Layout(e, path));

    private static TdispDeviceCapabilities Tdisp(JsonElement e, string path)
    {
        bool xt = Bool(e, "xtSupported", path, false);
        UInt128 requests = UInt128.Zero;
        if (e.TryGetProperty("requestsSupported", out var reqs))
        {
            if (reqs.ValueKind != JsonValueKind.Array)
                throw new DeviceConfigurationException($"{path}requestsSupported: expected an array of request names or codes");
            int i = 0;
            foreach (var r in reqs.EnumerateArray())
                requests |= TdispCapabilities.RequestBit(RequestCode(r, $"{path}requestsSupported[{i++}]"));
        }
        else
        {
            foreach (var (_, code) in RequestNames)
                if (code != TdispRequestCode.SetTdispConfig || xt)
                    requests |= TdispCapabilities.RequestBit((byte)code);
        }
        return new TdispDeviceCapabilities(
            (LockInterfaceFlags)Number(e, "lockFlagsSupported", path, 0, 0x1F, 0x1F),
            requests,
            (byte)Number(e, "devAddressWidth", path, 32, 64, 52),
            xt,
            (byte)Number(e, "numReqThis", path, 1, 255, 1),
            (byte)Number(e, "numReqAll", path, 1, 255, 1),
            (InterfaceInfo)Number(e, "interfaceInfo", path, 0, 0x1F, (ulong)(InterfaceInfo.NoUpdateAfterLock | InterfaceInfo.DmaWithoutPasid)),
            (int)Number(e, "maxReportPortion", path, 1, 0xFFFF, 1024),
            e.TryGetProperty("deviceSpecificInfo", out var dsi) ? Hex(dsi, path + "deviceSpecificInfo") : []);
    }

    private static byte RequestCode(JsonElement r, string path)
    {
        if (r.ValueKind == JsonValueKind.String)
        {
            string s = r.GetString()!;
            foreach (var (name, code) in RequestNames)
                if (string.Equals(name, s, StringComparison.OrdinalIgnoreCase))
                    return (byte)code;
        }
        ulong v = NumberValue(r, path);
        if (v is < 0x80 or > 0xFF)
            throw new DeviceConfigurationException($"{path}: expected a request name (e.g. LOCK_INTERFACE_REQUEST) or a code 0x80-0xFF");
        return (byte)v;
    }

    private static IdeConfiguration Ide(JsonElement e, string path)
    {
        var streams = new List<byte>();
        if (e.TryGetProperty("streamIds", out var arr))
        {
            int i = 0;
            foreach (var s in arr.EnumerateArray())
            {
                ulong v = NumberValue(s, $"{path}streamIds[{i++}]");
                if (v > 255)
                    throw new DeviceConfigurationException($"{path}streamIds[{i - 1}]: must be 0-255");
                streams.Add((byte)v);
            }
        }
        else
        {
            streams.Add(0);
        }
        return new IdeConfiguration((byte)Number(e, "maxPortIndex", path, 0, 255, 0), streams);
    }

    private static IdentityConfiguration Identity(JsonElement e, string path)
    {
        if (!e.TryGetProperty("seed", out var seed) || seed.ValueKind != JsonValueKind.String || seed.GetString()!.Length == 0)
            throw new DeviceConfigurationException($"{path}seed: expected a non-empty string");
        var ms = new List<MeasurementConfiguration>();
        if (e.TryGetProperty("measurements", out var arr))
        {
            int i = 0;
            foreach (var m in arr.EnumerateArray())
            {
                string mp = $"{path}measurements[{i++}].";
                bool raw = m.TryGetProperty("raw", out var rawHex);
                byte[] value = raw ? Hex(rawHex, mp + "raw")
                    : m.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String ? System.Text.Encoding.UTF8.GetBytes(text.GetString()!)
                    : throw new DeviceConfigurationException($"{mp}: expected \"raw\" (hex) or \"text\" (string, reported as its SHA-384 digest)");
                ms.Add(new MeasurementConfiguration((byte)Number(m, "index", mp, 1, 0xEF), (byte)Number(m, "type", mp, 0, 0x7F), raw, value));
            }
        }
        return new IdentityConfiguration(seed.GetString()!, ms);
    }

    private static DevicePolicy Policy(JsonElement e, string path)
    {
        if (e.ValueKind == JsonValueKind.Undefined)
            return new DevicePolicy();
        var stop = StopInUnlockedPolicy.Succeed;
        if (e.TryGetProperty("stopInUnlocked", out var s))
        {
            stop = s.GetString() switch
            {
                "succeed" => StopInUnlockedPolicy.Succeed,
                "invalidInterfaceState" => StopInUnlockedPolicy.RejectInvalidInterfaceState,
                _ => throw new DeviceConfigurationException($"{path}stopInUnlocked: expected \"succeed\" or \"invalidInterfaceState\""),
            };
        }
        return new DevicePolicy(stop, Bool(e, "requireIdeKeysForLock", path, true));
    }

    private static void Validate(DeviceConfiguration c)
    {
        ValidateLayout(c.Layout, "");
        if (c.Sriov is { } s)
        {
            ValidateLayout(s.Layout, "sriov.");
            if (c.Rid + s.FirstVfOffset + (long)Math.Max(0, s.Count - 1) * s.VfStride > 0xFFFF)
                throw new DeviceConfigurationException("sriov: the last VF's RID is beyond 0xFFFF");
            foreach (var b in s.Layout.Bars)
                if (b.Address + (ulong)s.Count * b.Size < b.Address)
                    throw new DeviceConfigurationException($"sriov.bars (index {b.Index}): the VF BAR array overflows the address space");
        }
        if (c.Ide.StreamIds.Count == 0)
            throw new DeviceConfigurationException("ide.streamIds: at least one stream is required");
        if (c.Ide.StreamIds.Distinct().Count() != c.Ide.StreamIds.Count)
            throw new DeviceConfigurationException("ide.streamIds: duplicate stream id");
    }

    private static void ValidateLayout(FunctionLayout l, string path)
    {
        var used = new HashSet<int>();
        foreach (var b in l.Bars)
        {
            string bp = $"{path}bars (index {b.Index})";
            if (!ulong.IsPow2(b.Size))
                throw new DeviceConfigurationException($"{bp}: size 0x{b.Size:x} is not a power of two");
            if (b.Address % b.Size != 0)
                throw new DeviceConfigurationException($"{bp}: address 0x{b.Address:x} is not aligned to its size");
            if (b.Address + b.Size - 1 < b.Address)
                throw new DeviceConfigurationException($"{bp}: overflows the address space");
            if (!b.Is64Bit && b.Address + b.Size > 1UL << 32)
                throw new DeviceConfigurationException($"{bp}: a 32-bit BAR must lie below 4 GiB");
            if (b.Is64Bit && b.Index == 5)
                throw new DeviceConfigurationException($"{bp}: a 64-bit BAR cannot start at index 5");
            if (!used.Add(b.Index) || (b.Is64Bit && !used.Add(b.Index + 1)))
                throw new DeviceConfigurationException($"{bp}: overlaps another BAR's registers");
        }
        if (l.Msix is { } m)
        {
            var table = l.Bars.FirstOrDefault(b => b.Index == m.TableBar)
                ?? throw new DeviceConfigurationException($"{path}msix.tableBar: no BAR with index {m.TableBar}");
            var pba = l.Bars.FirstOrDefault(b => b.Index == m.PbaBar)
                ?? throw new DeviceConfigurationException($"{path}msix.pbaBar: no BAR with index {m.PbaBar}");
            if (m.TableOffset % 8 != 0 || m.TableOffset + m.TableBytes > table.Size)
                throw new DeviceConfigurationException($"{path}msix.tableOffset: the table does not fit its BAR (or is not 8-byte aligned)");
            if (m.PbaOffset % 8 != 0 || m.PbaOffset + m.PbaBytes > pba.Size)
                throw new DeviceConfigurationException($"{path}msix.pbaOffset: the PBA does not fit its BAR (or is not 8-byte aligned)");
            if (m.TableBar == m.PbaBar)
            {
                ulong t0 = m.TableOffset / 4096, t1 = (m.TableOffset + m.TableBytes - 1) / 4096;
                ulong p0 = m.PbaOffset / 4096, p1 = (m.PbaOffset + m.PbaBytes - 1) / 4096;
                if (t0 <= p1 && p0 <= t1)
                    throw new DeviceConfigurationException($"{path}msix: the table and the PBA share a 4 KiB page (the model reports them as separate ranges)");
            }
        }
    }

    private static JsonElement Object(JsonElement e, string name, string path) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Object ? v
            : throw new DeviceConfigurationException($"{path}{name}: expected an object");

    private static bool Bool(JsonElement e, string name, string path, bool fallback)
    {
        if (!e.TryGetProperty(name, out var v))
            return fallback;
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new DeviceConfigurationException($"{path}{name}: expected true or false"),
        };
    }

    private static ulong Number(JsonElement e, string name, string path, ulong min, ulong max, ulong? fallback = null)
    {
        if (!e.TryGetProperty(name, out var v))
            return fallback ?? throw new DeviceConfigurationException($"{path}{name}: missing");
        ulong n = NumberValue(v, path + name);
        if (n < min || n > max)
            throw new DeviceConfigurationException($"{path}{name}: {n} (0x{n:x}) is outside 0x{min:x}-0x{max:x}");
        return n;
    }

    private static ulong NumberValue(JsonElement v, string path)
    {
        if (v.ValueKind == JsonValueKind.Number && v.TryGetUInt64(out ulong n))
            return n;
        if (v.ValueKind == JsonValueKind.String)
        {
            string s = v.GetString()!.Replace("_", "", StringComparison.Ordinal);
            bool ok = s.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
                ? ulong.TryParse(s.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out n)
                : ulong.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out n);
            if (ok)
                return n;
        }
        throw new DeviceConfigurationException($"{path}: expected a non-negative integer (number, or string like \"0x1000\")");
    }

    private static byte[] Hex(JsonElement v, string path)
    {
        if (v.ValueKind == JsonValueKind.String)
        {
            try
            {
                return Convert.FromHexString(v.GetString()!);
            }
            catch (FormatException)
            {
            }
        }
        throw new DeviceConfigurationException($"{path}: expected a hex string");
    }
}
