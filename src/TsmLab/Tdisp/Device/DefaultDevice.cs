namespace TsmLab.Tdisp.Device;

/// <summary>The default device every host starts from: PF 0000:01:00.0 (function_id 0x0100) with four VFs.</summary>
/// <remarks>
/// The built-in default device, shipped as the embedded resource DefaultDevice.json.
/// </remarks>
public static class DefaultDevice
{
    private const string ResourceName = "TsmLab.Tdisp.Device.DefaultDevice.json";
    private static readonly Lazy<string> JsonText = new(LoadJson);
    private static readonly Lazy<DeviceConfiguration> Parsed = new(() => DeviceConfigurationJson.Parse(JsonText.Value));

    /// <summary>The configuration's JSON text (also the schema's example).</summary>
    public static string Json => JsonText.Value;

    public static DeviceConfiguration Configuration => Parsed.Value;

    private static string LoadJson()
    {
        using var s = typeof(DefaultDevice).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"embedded resource {ResourceName} is missing");
        using var r = new StreamReader(s);
        return r.ReadToEnd();
    }
}
