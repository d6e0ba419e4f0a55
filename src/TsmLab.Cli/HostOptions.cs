using System.CommandLine;
using TsmLab.Abi;
using TsmLab.Hosts;
using TsmLab.Kernel;

namespace TsmLab.Cli;

/// <summary>The shared --host and --profile options, and booting the host they name.</summary>
internal sealed class HostOptions
{
    public Option<string> Host { get; } = new("--host")
    {
        Description = $"Built-in host ({string.Join(", ", BuiltInHosts.Names)}) or a host file (docs/hosts.md)",
        DefaultValueFactory = _ => "default",
    };

    /// <summary>The profile; absent means the host's own.</summary>
    public Option<string> Profile { get; } = ChoiceOption.Create("--profile", "profile", "IOMMU_VDEVICE_TSM_REQ ABI profile (default: the host's)", TsmAbiProfiles.Names);

    public void AddTo(Command c)
    {
        c.Options.Add(Host);
        c.Options.Add(Profile);
    }

    /// <summary>Boots the named host (with <paramref name="log"/> attached from the first crossing, connects included), or writes one line naming the problem and returns null.</summary>
    public HostKernel? Boot(ParseResult pr, TextWriter error, Tracing.TraceLog? log = null)
    {
        string name = pr.GetValue(Host)!;
        var config = BuiltInHosts.Find(name);
        if (config is null && (name.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || name.Contains('/')))
        {
            try { config = HostFile.Load(name); }
            catch (HostFileException e)
            {
                error.WriteLine($"tsmlab: {e.Message}; see docs/hosts.md");
                return null;
            }
        }
        if (config is null)
        {
            error.WriteLine($"tsmlab: unknown host '{Input.Printable.Of(name)}'; use one of: {string.Join(", ", BuiltInHosts.Names)}, or a host file (docs/hosts.md)");
            return null;
        }
        // --profile is one of TsmAbiProfiles.Names: its ChoiceOption refused anything else at parse time.
        if (pr.GetValue(Profile) is { } profile) config = config with { Profile = TsmAbiProfiles.Parse(profile) };
        try
        {
            return HostKernel.Boot(config, log is null ? null : k => k.Trace = log);
        }
        catch (InvalidOperationException e) when (BuiltInHosts.Find(name) is null)
        {
            // A host file's device can describe a machine that does not boot (its connect fails, say).
            error.WriteLine($"tsmlab: host file '{Input.Printable.Of(name)}' does not boot: {Input.Printable.Of(e.Message)}; see docs/hosts.md");
            return null;
        }
    }
}
