using System.CommandLine;
using System.Globalization;
using TsmLab.EmuSocket;
using TsmLab.Input;
using TsmLab.Tdisp.Device;
using TsmLab.Tracing;

namespace TsmLab.Cli;

/// <summary>
/// <c>tsmlab device serve</c>: a modelled TDISP device on DMTF's emulator socket protocol (PCI DOE
/// transport), for DMTF's requester emulator, its responder validator and QEMU (docs/interop.md).
/// </summary>
internal static class DeviceCommand
{
    public static Command Create(CliIo io)
    {
        var cmd = new Command("device", "Put a modelled device on DMTF's emulator socket protocol");
        cmd.Subcommands.Add(Serve(io));
        return cmd;
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
        var pcap = TraceOption.OutputFile("--pcap", "pcap", "FILE", "Write every DOE object, both directions, to FILE (pcap, link type 292 LINKTYPE_PCI_DOE)");
        var trace = TraceOption.OutputFile("--trace", "trace", "FILE", "Write the device's side of every connection to FILE as JSON Lines");
        var keep = new Option<bool>("--keep-serving") { Description = "After a client closes or shuts down, accept the next one with a fresh device instead of exiting" };
        var cmd = new Command("serve", "Serve a modelled device's DOE mailbox on DMTF's emulator socket protocol (PCI DOE)");
        cmd.Options.Add(port);
        cmd.Options.Add(device.Option);
        cmd.Options.Add(functionId);
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
            var server = new DeviceServer(() => new TdispPciDevice(config), io.Out, io.Error)
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
