using System.CommandLine;

namespace TsmLab.Cli;

internal static class AbiCommand
{
    public static Command Create(CliIo io)
    {
        var profile = new Option<string>("--profile") { Description = "ABI profile: scope or op-arch", DefaultValueFactory = _ => "op-arch" };
        var json = new Option<bool>("--json") { Description = "Print JSON" };
        var cmd = new Command("abi", "Print every ioctl of the modelled uAPI");
        cmd.Options.Add(profile);
        cmd.Options.Add(json);
        cmd.SetAction(pr => { io.Out.WriteLine(pr.GetValue(profile)); return 0; });
        return cmd;
    }
}
