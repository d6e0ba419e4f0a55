using System.CommandLine;
using TsmLab.Input;
using TsmLab.Tdisp.Device;

namespace TsmLab.Cli;

/// <summary>The --device FILE option: a TDISP device configuration (docs/tdisp.md), or the built-in device.</summary>
internal sealed class DeviceFileOption
{
    public Option<FileInfo?> Option { get; } = new("--device") { Description = "Device configuration JSON (default: the built-in device)", HelpName = "FILE" };

    /// <summary>The configuration asked for; null after one line on <paramref name="error"/> naming the problem.</summary>
    public DeviceConfiguration? Load(ParseResult pr, TextWriter error, string command)
    {
        var file = pr.GetValue(Option);
        if (file is null) return DeviceConfiguration.Default;
        try
        {
            return DeviceConfiguration.FromFile(file.FullName);
        }
        catch (InputFileException e)
        {
            error.WriteLine($"{command}: {e.Message}; pass a JSON device configuration (schema in docs/tdisp.md) or omit --device for the default device");
        }
        catch (DeviceConfigurationException e)
        {
            error.WriteLine($"{command}: not a valid device configuration: {e.Message.TrimEnd('.')}; see docs/tdisp.md for the schema");
        }
        return null;
    }
}
