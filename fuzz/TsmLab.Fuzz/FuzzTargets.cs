using TsmLab.Presentation;
using System.Text;
using TsmLab.Hosts;
using TsmLab.Input;
using TsmLab.Kernel;
using TsmLab.Tdisp.Device;
using TsmLab.Tdisp.Requester;
using TsmLab.Tdisp.Wire;

namespace TsmLab.Fuzz;

/// <summary>
/// One fuzz target per parser of outside input. A target returns normally for any input the
/// parser refuses the documented way (a protocol error answer, a typed input exception); any other
/// exception escaping is a finding. The same functions serve AFL++ (Program) and the corpus
/// replay test (FuzzCorpusTests), so a minimised crash checked in stays a regression test.
/// </summary>
public static class FuzzTargets
{
    /// <summary>Every target by name, with what it parses.</summary>
    public static readonly IReadOnlyList<(string Name, string Parses, Action<byte[]> Run)> All =
    [
        ("tdisp", "TDISP requests (protocol_id 0x01) to the device, as a conversation", Tdisp),
        ("ide-km", "IDE_KM requests (protocol_id 0x00) to the device, as a conversation", IdeKm),
        ("vdm", "SPDM VENDOR_DEFINED_REQUEST framing (classic and large) in front of the device", Vdm),
        ("doe", "DOE data objects into the device's mailbox", Doe),
        ("spdm", "DOE objects (discovery, SPDM, secured SPDM) into the SPDM responder in front of the device, as a conversation", Spdm),
        ("tdisp-requester", "device answers as the TSM's TDISP/IDE_KM requester decodes them (a misbehaving device)", Requester),
        ("replay", "tsmlab replay JSON Lines against a booted host (first byte picks default/cca/sev/tdx)", Replay),
        ("host-file", "host files (JSON), and booting what they describe", HostFileTarget),
        ("device-file", "device configuration files (JSON), and building the device they describe", DeviceFile),
    ];

    /// <summary>The largest input a target is given (the fuzzer's inputs are cut here too).</summary>
    public const int MaxInput = 256 * 1024;

    public static Action<byte[]>? Find(string name)
    {
        foreach (var t in All)
            if (t.Name == name) return t.Run;
        return null;
    }

    internal static DeviceSecurityManager NewDevice(DeviceConfiguration? config = null) =>
        new(config ?? DeviceConfiguration.Default, new DeterministicEntropySource(42));

    /// <summary>TDISP messages to a device whose default IDE stream is keyed (a fixed prelude), so LOCK can succeed.</summary>
    public static void Tdisp(byte[] data)
    {
        var dsm = NewDevice();
        KeyDefaultStream(dsm);
        Device(dsm, data, VdmProtocolId.Tdisp);
    }

    public static void IdeKm(byte[] data) => Device(NewDevice(), data, VdmProtocolId.IdeKm);

    /// <summary>The prelude of the tdisp target: stream 0's six keys programmed and started.</summary>
    public static void KeyDefaultStream(DeviceSecurityManager dsm) =>
        new TdispRequester(new DirectTransport(dsm)).ProgramAndStartStream(0, 0, 0, slot => new byte[40]);

    private static void Device(DeviceSecurityManager dsm, byte[] data, VdmProtocolId protocol)
    {
        var request = new byte[1 + ushort.MaxValue];
        var response = new byte[dsm.MaxResponseSize];
        var input = new FuzzInput(data);
        while (input.Next(out var m))
        {
            request[0] = (byte)protocol;
            m.CopyTo(request.AsSpan(1));
            int n = dsm.Respond(request.AsSpan(0, 1 + m.Length), response);
            Check(n >= 0 && n <= response.Length, "response size out of range");
        }
    }

    public static void Vdm(byte[] data)
    {
        var spdm = new SpdmVendorDefinedResponder(NewDevice());
        var response = new byte[spdm.MaxResponseSize];
        var input = new FuzzInput(data);
        while (input.Next(out var m))
        {
            int n = spdm.Respond(m, response);
            Check(n > 0 && n <= response.Length, "SPDM layer must always answer (a response or ERROR)");
        }
    }

    public static void Doe(byte[] data)
    {
        var mailbox = DoeMailbox.For(NewDevice());
        var response = new byte[mailbox.MaxResponseSize];
        var input = new FuzzInput(data);
        while (input.Next(out var m))
        {
            int n = mailbox.Exchange(m, response);
            Check(n >= 0 && n <= response.Length && n % 4 == 0, "DOE response must be whole DWORDs within the mailbox");
            if (n > 0) Check(DoeHeader.TryRead(response, out var h) && h.LengthBytes == n, "DOE response header must give its own length");
        }
    }

    /// <summary>A device mailbox with the SPDM responder (no clear stand-in), its identity built once per process.</summary>
    internal static DoeMailbox SpdmMailbox()
    {
        var dsm = NewDevice();
        var identity = SpdmIdentity.Value;
        return new DoeMailbox(new TsmLab.Spdm.Responder.SpdmResponder(() => identity, dsm,
            new TsmLab.Spdm.Responder.SpdmResponderSettings { Entropy = new DeterministicEntropySource(5) }));
    }

    private static readonly Lazy<TsmLab.Spdm.Responder.SpdmResponderIdentity> SpdmIdentity = new(() =>
    {
        var dsm = NewDevice();
        return TsmLab.Spdm.Responder.SpdmResponderIdentity.FromDevice(dsm.Identity, dsm.Configuration);
    });

    public static void Spdm(byte[] data)
    {
        var mailbox = SpdmMailbox();
        var response = new byte[mailbox.MaxResponseSize];
        var input = new FuzzInput(data);
        while (input.Next(out var m))
        {
            int n = mailbox.Exchange(m, response);
            Check(n >= 0 && n <= response.Length && n % 4 == 0, "DOE response must be whole DWORDs within the mailbox");
            if (n > 0) Check(DoeHeader.TryRead(response, out var h) && h.LengthBytes == n, "DOE response header must give its own length");
        }
    }

    /// <summary>A device that answers each request with the next message of the input.</summary>
    private sealed class ScriptedDevice(byte[] data) : ITdispTransport
    {
        private int at;

        public int Exchange(ReadOnlySpan<byte> request, Span<byte> response)
        {
            var input = new FuzzInput(data.AsSpan(at));
            if (!input.Next(out var m)) return 0;
            at += Math.Min(data.Length - at, 2 + m.Length);
            int n = Math.Min(m.Length, response.Length);
            m[..n].CopyTo(response);
            return n;
        }
    }

    public static void Requester(byte[] data) => RequesterScript(new TdispRequester(new ScriptedDevice(data)));

    /// <summary>The requester's calls of a whole flow, in order (the seed corpus records a real device's answers to them).</summary>
    public static void RequesterScript(TdispRequester r)
    {
        var pf = TdiFunctionId.FromRid(0x0100);
        r.GetVersion(pf);
        r.GetCapabilities(pf);
        r.QueryIde(0);
        r.ProgramAndStartStream(0, 0, 0, slot => new byte[40]);
        var nonce = r.LockInterface(pf, new LockInterfaceParameters((LockInterfaceFlags)0x4, 0, 0));
        r.GetInterfaceReport(pf, 64);
        r.GetState(pf);
        r.StartInterface(pf, nonce.Value is { Length: 32 } v ? v : new byte[32]);
        r.BindP2pStream(pf, 1);
        r.UnbindP2pStream(pf, 1);
        r.SetMmioAttribute(pf, default);
        r.SetTdispConfig(pf, default);
        r.SendVdm(pf, 0, [0x01, 0x00], [1, 2, 3]);
        r.StopInterface(pf);
    }

    private static readonly string[] ReplayHosts = ["default", "cca", "sev", "tdx"];

    public static void Replay(byte[] data)
    {
        string host = ReplayHosts[data.Length == 0 ? 0 : data[0] % ReplayHosts.Length];
        var kernel = HostKernel.Boot(BuiltInHosts.Find(host)!);
        var session = new ReplaySession(kernel);
        string text = Encoding.UTF8.GetString(data.AsSpan(Math.Min(1, data.Length)));
        var lines = new BoundedLineReader(new StringReader(text), 64 * 1024);
        while (lines.TryReadLine(out var line, out bool tooLong))
        {
            if (tooLong) continue;
            string? answer = session.Execute(line);
            if (answer is not null)
                using (System.Text.Json.JsonDocument.Parse(answer)) { }
        }
        session.Process.Exit();
        Check(!kernel.IommufdContexts.Any(), "process exit must release every iommufd context");
        Check(kernel.Functions.All(f => f.Tdi is null), "process exit must unbind every TDI");
        HostReport.Json(kernel);
    }

    public static void HostFileTarget(byte[] data)
    {
        HostConfiguration config;
        try
        {
            config = HostFile.Parse(data, "/nonexistent-fuzz-dir/host.json");
        }
        catch (HostFileException)
        {
            return;
        }
        HostKernel kernel;
        try
        {
            kernel = HostKernel.Boot(config);
        }
        catch (InvalidOperationException)
        {
            return; // a device that does not boot: the CLI answers it in one line
        }
        HostReport.Json(kernel);
        HostReport.Tree(kernel);
    }

    public static void DeviceFile(byte[] data)
    {
        DeviceConfiguration config;
        try
        {
            config = DeviceConfigurationJson.Parse(data, "device file 'fuzz'");
        }
        catch (DeviceConfigurationException)
        {
            return;
        }
        var dsm = NewDevice(config);
        BuiltInHosts.FunctionsOf(config);
        // Every interface the configuration describes answers its report.
        var requester = new TdispRequester(new DirectTransport(dsm));
        foreach (var tdi in dsm.Interfaces)
        {
            requester.GetCapabilities(tdi.FunctionId);
            requester.GetInterfaceReport(tdi.FunctionId);
        }
    }

    private static void Check(bool condition, string what)
    {
        if (!condition) throw new FuzzFindingException(what);
    }
}

/// <summary>An invariant a target checks failed (as distinct from an exception thrown by the code under test).</summary>
public sealed class FuzzFindingException(string message) : Exception(message);
