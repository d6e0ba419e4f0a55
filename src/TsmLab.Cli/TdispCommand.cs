using System.CommandLine;
using TsmLab.Input;
using TsmLab.Tdisp.Device;

namespace TsmLab.Cli;

/// <summary>
/// `tsmlab tdisp [--device FILE]`: drives a modelled TDISP device line by line. Each input line is
/// a PCI-SIG vendor-defined payload in hex (protocol_id 0x00 IDE_KM / 0x01 TDISP, then the
/// message); each output line is the device's answer the same way, flushed at once so another
/// program can drive the device interactively. State persists across lines.
/// </summary>
internal static class TdispCommand
{
    public static Command Create(CliIo io)
    {
        var device = new DeviceFileOption();
        var cmd = new Command("tdisp", "Send TDISP / IDE_KM payloads (hex, one per line on stdin) to a modelled device");
        cmd.Options.Add(device.Option);
        cmd.SetAction(pr => device.Load(pr, io.Error, "tsmlab tdisp") is { } config ? Run(io, config) : Program.UsageError);
        return cmd;
    }

    private static int Run(CliIo io, DeviceConfiguration config)
    {
        var dsm = new DeviceSecurityManager(config);
        var response = new byte[dsm.MaxResponseSize];
        var lines = new BoundedLineReader(io.In, MaxLineLength);
        while (lines.TryReadLine(out var line, out bool tooLong))
        {
            var text = line.Trim();
            if (tooLong)
            {
                io.Out.WriteLine($"error: line longer than {MaxLineLength} characters (a vendor-defined payload is at most {MaxPayload} bytes)");
                io.Out.Flush();
                continue;
            }
            if (text.Length == 0)
                continue;
            if (!TryParseHex(text, out var request))
            {
                io.Out.WriteLine("error: not a hex string (expected an even number of hex digits, optionally after 0x)");
                io.Out.Flush();
                continue;
            }
            int n = dsm.Respond(request, response);
            io.Out.WriteLine(n == 0
                ? "error: no response (unknown protocol_id or malformed IDE_KM message; SPDM would answer ERROR)"
                : Convert.ToHexStringLower(response, 0, n));
            io.Out.Flush();
        }
        return 0;
    }

    /// <summary>The longest payload a DOE object can carry (2^18 dwords less its header), and its hex line.</summary>
    private const int MaxPayload = (1 << 20) - 8;
    private const int MaxLineLength = 4 * MaxPayload;

    /// <summary>Hex digits, spaces allowed, one leading 0x allowed (as replay's "hex" fields accept).</summary>
    private static bool TryParseHex(string text, out byte[] bytes)
    {
        var h = text.Replace(" ", "", StringComparison.Ordinal);
        if (h.StartsWith("0x", StringComparison.OrdinalIgnoreCase)) h = h[2..];
        bytes = [];
        if (h.Length == 0 || h.Length % 2 != 0) return false;
        try
        {
            bytes = Convert.FromHexString(h);
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }
}
