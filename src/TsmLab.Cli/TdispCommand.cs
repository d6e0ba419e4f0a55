// `tsmlab tdisp [--device FILE]`: drives a modelled TDISP device line by line. Each input line is
// a PCI-SIG vendor-defined payload in hex (protocol_id 0x00 IDE_KM / 0x01 TDISP, then the
// message); each output line is the device's answer the same way, flushed at once so another
// program can drive the device interactively. State persists across lines.
using System.CommandLine;
using TsmLab.Tdisp.Device;

namespace TsmLab.Cli;

internal static class TdispCommand
{
    public static Command Create(CliIo io)
    {
        var device = new Option<FileInfo?>("--device") { Description = "Device configuration JSON (default: the built-in device)" };
        var cmd = new Command("tdisp", "Send TDISP / IDE_KM payloads (hex, one per line on stdin) to a modelled device");
        cmd.Options.Add(device);
        cmd.SetAction(pr => Run(io, pr.GetValue(device)));
        return cmd;
    }

    private static int Run(CliIo io, FileInfo? file)
    {
        DeviceConfiguration config;
        if (file is null)
        {
            config = DeviceConfiguration.Default;
        }
        else
        {
            string json;
            try
            {
                json = File.ReadAllText(file.FullName);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                io.Error.WriteLine($"tsmlab tdisp: cannot read device file '{file.FullName}' ({e.Message.TrimEnd('.')}); pass a JSON device configuration (schema in docs/tdisp.md) or omit --device for the default device");
                return Program.UsageError;
            }
            try
            {
                config = DeviceConfiguration.FromJson(json);
            }
            catch (DeviceConfigurationException e)
            {
                io.Error.WriteLine($"tsmlab tdisp: device file '{file.FullName}' is not a valid device configuration: {e.Message.TrimEnd('.')}; see docs/tdisp.md for the schema");
                return Program.UsageError;
            }
        }
        var dsm = new DeviceSecurityManager(config);
        var response = new byte[dsm.MaxResponseSize];
        while (io.In.ReadLine() is { } line)
        {
            var text = line.Trim();
            if (text.Length == 0)
                continue;
            byte[] request;
            try
            {
                request = Convert.FromHexString(text.Replace(" ", "", StringComparison.Ordinal));
            }
            catch (FormatException)
            {
                io.Out.WriteLine("error: not a hex string (expected an even number of hex digits)");
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
}
