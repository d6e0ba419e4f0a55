using System.CommandLine;
using System.Globalization;
using TsmLab.EmuSocket;
using TsmLab.Spdm.Responder;
using TsmLab.Input;
using TsmLab.Tdisp.Device;
using TsmLab.Tracing;
using System.Security.Cryptography.X509Certificates;

namespace TsmLab.Cli;

/// <summary>
/// <c>tsmlab device serve</c>: a modelled TDISP device on DMTF's emulator socket protocol (PCI DOE
/// transport), for DMTF's requester emulator, its responder validator and QEMU; <c>tsmlab device
/// connect</c>: TsmLab's TSM-side requester against such a responder (docs/interop.md).
/// </summary>
internal static class DeviceCommand
{
    public static Command Create(CliIo io)
    {
        var cmd = new Command("device", "Put a modelled device on DMTF's emulator socket protocol");
        cmd.Subcommands.Add(Serve(io));
        cmd.Subcommands.Add(Connect(io));
        return cmd;
    }

    private static Command Connect(CliIo io)
    {
        var endpoint = new Argument<string>("endpoint") { Description = "[HOST:]PORT of a responder on the emulator socket protocol (PCI DOE); HOST defaults to 127.0.0.1", HelpName = "[HOST:]PORT" };
        var root = new Option<FileInfo?>("--root-cert") { Description = "The root certificate (DER or PEM) the device's chain must verify to (default: the root of TsmLab's built-in device)", HelpName = "FILE" };
        var psk = new Option<string?>("--psk") { Description = "The pre-shared key in hex (for --session psk)", HelpName = "HEX" };
        var pskHint = new Option<string?>("--psk-hint") { Description = "The PSK hint: text, or with a 0x prefix its exact bytes in hex", HelpName = "TEXT" };
        var session = ChoiceOption.Create("--session", "session kind", "The secured session to open", ["key-exchange", "psk"], "key-exchange");
        var functionId = new Option<int?>("--function-id")
        {
            Description = "The TDISP function id of the interface to lock (default 0x0100, TsmLab's built-in device; DMTF's responder uses 0xBEEF)",
            HelpName = "ID",
            CustomParser = r => ParseNumber(r, "function id", 0xFFFF),
        };
        var pcap = TraceOption.OutputFile("--pcap", "pcap", "FILE", "Write every DOE object, both directions, to FILE (pcap, link type 292 LINKTYPE_PCI_DOE)");
        var json = new Option<bool>("--json") { Description = "Print the steps as one JSON object" };
        var cmd = new Command("connect", "Run TsmLab's TSM-side requester (SPDM, IDE_KM, TDISP) against a responder on the emulator socket protocol");
        cmd.Arguments.Add(endpoint);
        cmd.Options.Add(root);
        cmd.Options.Add(psk);
        cmd.Options.Add(pskHint);
        cmd.Options.Add(session);
        cmd.Options.Add(functionId);
        cmd.Options.Add(pcap);
        cmd.Options.Add(json);
        cmd.SetAction(pr =>
        {
            const string name = "tsmlab device connect";
            if (!EmuSocketProtocol.TryParseEndpoint(pr.GetValue(endpoint)!, out string host, out int port))
            {
                io.Error.WriteLine($"{name}: invalid endpoint '{Printable.Of(pr.GetValue(endpoint)!)}' (expected [HOST:]PORT, port 1-65535)");
                return Program.UsageError;
            }
            if (!TryPsk(pr.GetValue(psk), pr.GetValue(pskHint), name, io.Error, out byte[]? pskBytes, out byte[] hintBytes)) return Program.UsageError;
            bool pskSession = pr.GetValue(session) == "psk";
            if (pskSession && pskBytes is null)
            {
                io.Error.WriteLine($"{name}: --session psk needs --psk HEX (and the responder's --psk-hint)");
                return Program.UsageError;
            }
            X509Certificate2 rootCert;
            if (pr.GetValue(root) is { } file)
            {
                if (SpdmIdentityFiles.ReadCertificateFile(file.FullName, "root certificate", out string problem) is not { } loaded)
                {
                    io.Error.WriteLine($"{name}: cannot use root certificate '{Printable.Of(file.FullName)}': {problem}");
                    return Program.UsageError;
                }
                rootCert = loaded;
            }
            else rootCert = new DeviceIdentity(DeviceConfiguration.Default).RootCertificate;
            FileStream? pcapStream = null;
            try
            {
                if (pr.GetValue(pcap) is { } p) pcapStream = File.Create(p.FullName);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                io.Error.WriteLine($"{name}: cannot write pcap file: {Printable.Of(e.Message)}");
                return Program.UsageError;
            }
            using var pcapWriter = pcapStream is null ? null : new PcapWriter(pcapStream);
            var steps = DeviceConnectFlow.Run(new DeviceConnectOptions
            {
                Host = host,
                Port = port,
                RootCertificate = rootCert,
                FunctionId = (uint)(pr.GetValue(functionId) ?? 0x0100),
                Session = pskSession ? ConnectSessionKind.Psk : ConnectSessionKind.KeyExchange,
                Psk = pskBytes,
                PskHint = hintBytes,
                Pcap = pcapWriter,
            });
            bool ok = steps.All(s => s.Status == ConnectStepStatus.Ok);
            if (pr.GetValue(json)) io.Out.WriteLine(StepsJson($"{host}:{port}", ok, steps));
            else
            {
                int width = steps.Max(s => s.Name.Length);
                foreach (var s in steps)
                    io.Out.WriteLine($"{s.Name.PadRight(width)}  {StatusName(s.Status),-7}  {s.Answer}");
                io.Out.WriteLine(ok ? $"every step succeeded against {host}:{port}" : $"stopped at: {steps.First(s => s.Status == ConnectStepStatus.Failed).Name}");
            }
            return ok ? 0 : 1;
        });
        return cmd;
    }

    private static string StatusName(ConnectStepStatus s) => s switch
    {
        ConnectStepStatus.Ok => "ok",
        ConnectStepStatus.Failed => "FAILED",
        _ => "skipped",
    };

    private static string StepsJson(string endpoint, bool ok, IReadOnlyList<ConnectStep> steps)
    {
        using var ms = new MemoryStream();
        using (var w = new System.Text.Json.Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            w.WriteString("endpoint", endpoint);
            w.WriteBoolean("ok", ok);
            w.WriteStartArray("steps");
            foreach (var s in steps)
            {
                w.WriteStartObject();
                w.WriteString("step", s.Name);
                w.WriteString("status", s.Status.ToString().ToLowerInvariant());
                w.WriteString("answer", s.Answer);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(ms.ToArray());
    }

    private static bool IsHex(string s) => s.Length % 2 == 0 && s.All(char.IsAsciiHexDigit);

    /// <summary>
    /// --psk HEX (at least one byte, at most 64) and --psk-hint TEXT or 0x-hex (at most 16 bytes, as
    /// libspdm allows; DMTF's tools send "TestPskHint" with its NUL, i.e. 0x5465737450736b48696e7400).
    /// A hint without a key is a usage error.
    /// </summary>
    private static bool TryPsk(string? pskText, string? hintText, string name, TextWriter error, out byte[]? psk, out byte[] hint)
    {
        psk = null;
        hint = [];
        if (pskText is not null)
        {
            if (!IsHex(pskText) || pskText.Length is 0 or > 128)
            {
                error.WriteLine($"{name}: --psk '{Printable.Of(pskText)}' is not 1 to 64 bytes of hex (an even number of hex digits)");
                return false;
            }
            psk = Convert.FromHexString(pskText);
        }
        if (hintText is not null)
        {
            if (psk is null)
            {
                error.WriteLine($"{name}: --psk-hint needs --psk");
                return false;
            }
            if (hintText.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            {
                if (!IsHex(hintText[2..]))
                {
                    error.WriteLine($"{name}: --psk-hint '{Printable.Of(hintText)}' starts with 0x but is not hex");
                    return false;
                }
                hint = Convert.FromHexString(hintText.AsSpan(2));
            }
            else hint = System.Text.Encoding.UTF8.GetBytes(hintText);
            if (hint.Length > 16)
            {
                error.WriteLine($"{name}: --psk-hint is {hint.Length} bytes; at most 16");
                return false;
            }
        }
        return true;
    }

    private static Command Serve(CliIo io)
    {
        var port = new Option<int>("--port")
        {
            Description = $"TCP port on 127.0.0.1 (default {EmuSocketProtocol.DefaultPort}; 0 picks a free one, printed when listening)",
            HelpName = "N",
            DefaultValueFactory = _ => EmuSocketProtocol.DefaultPort,
            CustomParser = r => ParseNumber(r, "port", 0xFFFF),
        };
        var device = new DeviceFileOption();
        var functionId = new Option<int?>("--function-id")
        {
            Description = "The PF's TDISP function id (its routing id, 0x0000-0xFFFF; DMTF's requester uses 0xBEEF)",
            HelpName = "ID",
            CustomParser = r => ParseNumber(r, "function id", 0xFFFF),
        };
        var chain = new Option<FileInfo?>("--cert-chain") { Description = "The device's certificate chain: concatenated DER certificates, root first (with --private-key)", HelpName = "FILE.der" };
        var key = new Option<FileInfo?>("--private-key") { Description = "The leaf's private key, PEM (PKCS#8 or SEC1), ECDSA P-256 or P-384 (with --cert-chain)", HelpName = "FILE.pem" };
        var psk = new Option<string?>("--psk") { Description = "A pre-shared key in hex, for PSK sessions", HelpName = "HEX" };
        var pskHint = new Option<string?>("--psk-hint") { Description = "The PSK hint: text, or with a 0x prefix its exact bytes in hex", HelpName = "TEXT" };
        var pcap = TraceOption.OutputFile("--pcap", "pcap", "FILE", "Write every DOE object, both directions, to FILE (pcap, link type 292 LINKTYPE_PCI_DOE)");
        var trace = TraceOption.OutputFile("--trace", "trace", "FILE", "Write the device's side of every connection to FILE as JSON Lines");
        var keep = new Option<bool>("--keep-serving") { Description = "After a client closes or shuts down, accept the next one with a fresh device instead of exiting" };
        var cmd = new Command("serve", "Serve a modelled device's DOE mailbox on DMTF's emulator socket protocol (PCI DOE)");
        cmd.Options.Add(port);
        cmd.Options.Add(device.Option);
        cmd.Options.Add(functionId);
        cmd.Options.Add(chain);
        cmd.Options.Add(key);
        cmd.Options.Add(psk);
        cmd.Options.Add(pskHint);
        cmd.Options.Add(pcap);
        cmd.Options.Add(trace);
        cmd.Options.Add(keep);
        cmd.SetAction(pr =>
        {
            const string name = "tsmlab device serve";
            var config = device.Load(pr, io.Error, name);
            if (config is null) return Program.UsageError;
            if (pr.GetValue(functionId) is int rid)
            {
                if (WithRid(config, (ushort)rid) is not { } moved)
                {
                    io.Error.WriteLine($"{name}: function id 0x{rid:x4} leaves no room for the device's {config.Sriov!.Count} VFs after it (their routing ids would pass 0xFFFF)");
                    return Program.UsageError;
                }
                config = moved;
            }
            if (!TryPsk(pr.GetValue(psk), pr.GetValue(pskHint), name, io.Error, out byte[]? pskBytes, out byte[] hintBytes)) return Program.UsageError;
            if ((pr.GetValue(chain) is null) != (pr.GetValue(key) is null))
            {
                io.Error.WriteLine($"{name}: --cert-chain and --private-key go together (the chain's leaf must match the key)");
                return Program.UsageError;
            }
            Func<SpdmResponderIdentity>? identity = null;
            if (pr.GetValue(chain) is { } chainFile && pr.GetValue(key) is { } keyFile)
            {
                var measurements = config.Identity.Measurements.Select(m => new SpdmMeasurement(m.Index, m.Type, m.Value, m.Raw)).ToArray();
                if (SpdmIdentityFiles.Load(chainFile.FullName, keyFile.FullName, measurements, out string problem) is not { } loaded)
                {
                    io.Error.WriteLine($"{name}: {problem}");
                    return Program.UsageError;
                }
                identity = () => loaded;
            }
            FileStream? pcapStream = null, traceStream = null;
            try
            {
                if (pr.GetValue(pcap) is { } p) pcapStream = File.Create(p.FullName);
                if (pr.GetValue(trace) is { } t) traceStream = File.Create(t.FullName);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                io.Error.WriteLine($"{name}: cannot write {(pcapStream is null ? "pcap" : "trace")} file: {Printable.Of(e.Message)}");
                pcapStream?.Dispose();
                return Program.UsageError;
            }
            using var pcapWriter = pcapStream is null ? null : new PcapWriter(pcapStream);
            using var traceWriter = traceStream is null ? null : new StreamWriter(traceStream);
            // TDISP and IDE_KM only inside a session, as the TDISP spec requires of a device.
            var spdm = pskBytes is null ? new SpdmResponderSettings()
                : new SpdmResponderSettings { Capabilities = new SpdmResponderSettings().Capabilities | TsmLab.Spdm.Wire.SpdmCapabilities.PskWithContext, Psk = pskBytes, PskHint = hintBytes };
            var server = new DeviceServer(() => new TdispPciDevice(new DeviceSecurityManager(config), spdm, identity), io.Out, io.Error)
            {
                Port = pr.GetValue(port),
                KeepServing = pr.GetValue(keep),
                Pcap = pcapWriter,
                TraceSink = traceWriter is null ? null : log => { log.WriteJsonLines(traceWriter); traceWriter.Flush(); },
            };
            using var cancel = new CancellationTokenSource();
            ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cancel.Cancel(); };
            Console.CancelKeyPress += onCancel;
            try
            {
                return server.Run(cancel.Token);
            }
            finally
            {
                Console.CancelKeyPress -= onCancel;
            }
        });
        return cmd;
    }

    /// <summary>The configuration with its PF at <paramref name="rid"/> (VFs follow it), or null when the VFs would not fit.</summary>
    private static DeviceConfiguration? WithRid(DeviceConfiguration c, ushort rid)
    {
        if (c.Sriov is { Count: > 0 } s && rid + s.FirstVfOffset + (long)(s.Count - 1) * s.VfStride > 0xFFFF) return null;
        return c with { Bus = (byte)(rid >> 8), Device = (byte)((rid >> 3) & 0x1F), Function = (byte)(rid & 7) };
    }

    /// <summary>A number in decimal or 0x-hex, 0..<paramref name="max"/>; anything else is a usage error naming it.</summary>
    private static int ParseNumber(System.CommandLine.Parsing.ArgumentResult r, string what, int max)
    {
        string text = r.Tokens.Count > 0 ? r.Tokens[^1].Value : "";
        bool hex = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase);
        if (uint.TryParse(hex ? text.AsSpan(2) : text, hex ? NumberStyles.AllowHexSpecifier : NumberStyles.None, CultureInfo.InvariantCulture, out uint v) && v <= (uint)max)
            return (int)v;
        r.AddError($"invalid {what} '{Printable.Of(text)}' (a number 0-{max}, or 0x0-0x{max:x})");
        return 0;
    }
}
