using TsmLab.Input;
using TsmLab.Tdisp.Wire;

namespace TsmLab.Tdisp.Device;

/// <summary>
/// Parses and validates the device configuration JSON (schema in docs/tdisp.md) through the one
/// JSON input reader (TsmLab.Input.JsonInput): no reflection-based serialization. Numbers may be
/// JSON numbers or strings ("0x1000", "4096"). Every error names the file, the line and the field;
/// unknown fields are refused; ranges that combine offsets and sizes use checked arithmetic.
/// </summary>
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

    public static DeviceConfiguration Parse(string json, string? origin = null) =>
        Parse(System.Text.Encoding.UTF8.GetBytes(json), origin);

    /// <summary>Parses UTF-8 JSON; <paramref name="origin"/> names the input in messages (e.g. "device file 'dev.json'").</summary>
    public static DeviceConfiguration Parse(ReadOnlySpan<byte> utf8, string? origin)
    {
        JsonInputValue doc;
        try
        {
            doc = JsonInput.Parse(utf8, origin, relaxed: true);
        }
        catch (JsonInputException e)
        {
            throw new DeviceConfigurationException(e.Message, e);
        }
        try
        {
            var root = doc.AsObject();
            var cfg = new DeviceConfiguration(
                (byte)root.Integer("segment", 0, 0xFF, 0),
                (byte)root.Integer("bus", 0, 0xFF),
                (byte)root.Integer("device", 0, 31),
                (byte)root.Integer("function", 0, 7),
                (ushort)root.Integer("vendorId", 0, 0xFFFF),
                (ushort)root.Integer("deviceId", 0, 0xFFFF),
                Layout(root),
                root.OptionalObject("sriov") is { } sriov ? Sriov(sriov) : null,
                Tdisp(root.Object("tdisp")),
                Ide(root.Object("ide")),
                Identity(root.Object("identity")),
                root.OptionalObject("policy") is { } p ? Policy(p) : new DevicePolicy());
            root.RejectUnknown();
            Validate(cfg);
            return cfg;
        }
        catch (JsonInputException e)
        {
            throw new DeviceConfigurationException(e.Message, e);
        }
        catch (DeviceConfigurationException e) when (origin is not null && e.InnerException is null)
        {
            throw new DeviceConfigurationException($"{origin}: {e.Message}", e);
        }
    }

    private static FunctionLayout Layout(JsonInputObject e)
    {
        var bars = new List<BarConfiguration>();
        foreach (var item in e.Array("bars"))
        {
            var b = item.AsObject();
            bars.Add(new BarConfiguration(
                (int)b.Integer("index", 0, 5),
                b.Integer("address", 0, ulong.MaxValue),
                b.Integer("size", 4096, 1UL << 63),
                b.Bool("is64Bit", true),
                b.Bool("prefetchable", false),
                b.Bool("memAttrUpdatable", false)));
            b.RejectUnknown();
        }
        MsixConfiguration? msix = null;
        if (e.OptionalObject("msix") is { } m)
        {
            msix = new MsixConfiguration(
                (int)m.Integer("tableBar", 0, 5),
                m.Integer("tableOffset", 0, ulong.MaxValue),
                (int)m.Integer("tableSize", 1, 2048),
                (int)m.Integer("pbaBar", 0, 5),
                m.Integer("pbaOffset", 0, ulong.MaxValue),
                (int)m.Integer("capabilityOffset", 0x40, 0xFC, 0xB0));
            m.RejectUnknown();
        }
        return new FunctionLayout(bars, msix);
    }

    private static SriovConfiguration Sriov(JsonInputObject e)
    {
        var s = new SriovConfiguration(
            (int)e.Integer("count", 0, 255),
            (int)e.Integer("firstVfOffset", 1, 0xFFFF),
            (int)e.Integer("vfStride", 1, 0xFFFF, 1),
            (ushort)e.Integer("vfDeviceId", 0, 0xFFFF),
            Layout(e));
        e.RejectUnknown();
        return s;
    }

    private static TdispDeviceCapabilities Tdisp(JsonInputObject e)
    {
        bool xt = e.Bool("xtSupported", false);
        UInt128 requests = UInt128.Zero;
        if (e.OptionalArray("requestsSupported") is { } reqs)
        {
            foreach (var r in reqs)
                requests |= TdispCapabilities.RequestBit(RequestCode(r));
        }
        else
        {
            foreach (var (_, code) in RequestNames)
                if (code != TdispRequestCode.SetTdispConfig || xt)
                    requests |= TdispCapabilities.RequestBit((byte)code);
        }
        var caps = new TdispDeviceCapabilities(
            (LockInterfaceFlags)e.Integer("lockFlagsSupported", 0, 0x1F, 0x1F),
            requests,
            (byte)e.Integer("devAddressWidth", 32, 64, 52),
            xt,
            (byte)e.Integer("numReqThis", 1, 255, 1),
            (byte)e.Integer("numReqAll", 1, 255, 1),
            (InterfaceInfo)e.Integer("interfaceInfo", 0, 0x1F, (ulong)(InterfaceInfo.NoUpdateAfterLock | InterfaceInfo.DmaWithoutPasid)),
            (int)e.Integer("maxReportPortion", 1, 0xFFFF, 1024),
            e.Find("deviceSpecificInfo") is { } dsi ? Hex(dsi) : []);
        e.RejectUnknown();
        return caps;
    }

    private static byte RequestCode(JsonInputValue r)
    {
        if (r.Kind == JsonInputKind.String)
        {
            string s = r.AsString();
            foreach (var (name, code) in RequestNames)
                if (string.Equals(name, s, StringComparison.OrdinalIgnoreCase))
                    return (byte)code;
            if (!JsonInputValue.TryParseInteger(s, out _))
                throw r.Error($"{r.Name}: expected a request name (e.g. LOCK_INTERFACE_REQUEST) or a code 0x80-0xFF");
        }
        return (byte)r.AsInteger(0x80, 0xFF);
    }

    private static IdeConfiguration Ide(JsonInputObject e)
    {
        var streams = new List<byte>();
        if (e.OptionalArray("streamIds") is { } arr)
        {
            foreach (var s in arr)
                streams.Add((byte)s.AsInteger(0, 255));
        }
        else
        {
            streams.Add(0);
        }
        var ide = new IdeConfiguration((byte)e.Integer("maxPortIndex", 0, 255, 0), streams);
        e.RejectUnknown();
        return ide;
    }

    private static IdentityConfiguration Identity(JsonInputObject e)
    {
        var seedValue = e.Required("seed");
        string seed = seedValue.AsString();
        if (seed.Length == 0)
            throw seedValue.Error($"{seedValue.Name}: expected a non-empty string");
        var ms = new List<MeasurementConfiguration>();
        if (e.OptionalArray("measurements") is { } arr)
        {
            foreach (var item in arr)
            {
                var m = item.AsObject();
                byte index = (byte)m.Integer("index", 1, 0xEF);
                byte type = (byte)m.Integer("type", 0, 0x7F);
                var raw = m.Find("raw");
                var text = m.Find("text");
                if ((raw is null) == (text is null))
                    throw item.Error($"{item.Name}: expected either \"raw\" (hex) or \"text\" (string, reported as its SHA-384 digest)");
                byte[] value = raw is not null ? Hex(raw) : System.Text.Encoding.UTF8.GetBytes(text!.AsString());
                // A DMTF measurement block's u16 MeasurementSize covers its 3-byte header and the value [SP1].
                if (raw is not null && value.Length > MeasurementBlock.MaxRawValue)
                    throw raw.Error($"{raw.Name}: a raw measurement holds at most {MeasurementBlock.MaxRawValue} bytes (DSP0274's u16 block size), not {value.Length}");
                m.RejectUnknown();
                ms.Add(new MeasurementConfiguration(index, type, raw is not null, value));
            }
        }
        e.RejectUnknown();
        return new IdentityConfiguration(seed, ms);
    }

    private static DevicePolicy Policy(JsonInputObject e)
    {
        var stop = StopInUnlockedPolicy.Succeed;
        if (e.Find("stopInUnlocked") is { } s)
        {
            stop = s.AsString() switch
            {
                "succeed" => StopInUnlockedPolicy.Succeed,
                "invalidInterfaceState" => StopInUnlockedPolicy.RejectInvalidInterfaceState,
                _ => throw s.Error($"{s.Name}: expected \"succeed\" or \"invalidInterfaceState\""),
            };
        }
        var policy = new DevicePolicy(stop, e.Bool("requireIdeKeysForLock", true));
        e.RejectUnknown();
        return policy;
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
            {
                // VF n's BAR is at Address + n * Size; the array of all VFs ends at Address + Count * Size.
                if (!CheckedRange.TryEnd(b.Address, (ulong)s.Count, b.Size, out ulong end))
                    throw new DeviceConfigurationException($"sriov.bars (index {b.Index}): the VF BAR array overflows the address space");
                if (!b.Is64Bit && end > 1UL << 32)
                    throw new DeviceConfigurationException($"sriov.bars (index {b.Index}): a 32-bit VF BAR array must lie below 4 GiB");
            }
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
            if (!CheckedRange.TryLast(b.Address, b.Size, out ulong last))
                throw new DeviceConfigurationException($"{bp}: overflows the address space");
            if (!b.Is64Bit && last >= 1UL << 32)
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
            if (m.TableOffset % 8 != 0 || !CheckedRange.Fits(m.TableOffset, m.TableBytes, table.Size))
                throw new DeviceConfigurationException($"{path}msix.tableOffset: the table does not fit its BAR (or is not 8-byte aligned)");
            if (m.PbaOffset % 8 != 0 || !CheckedRange.Fits(m.PbaOffset, m.PbaBytes, pba.Size))
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

    private static byte[] Hex(JsonInputValue v)
    {
        if (v.Kind == JsonInputKind.String)
        {
            try
            {
                return Convert.FromHexString(v.AsString());
            }
            catch (FormatException)
            {
            }
        }
        throw v.Error($"{v.Name}: expected a hex string");
    }
}
