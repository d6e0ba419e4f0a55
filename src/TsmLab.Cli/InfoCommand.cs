using TsmLab.Presentation;
using System.CommandLine;
using TsmLab.Hosts;

namespace TsmLab.Cli;

/// <summary><c>tsmlab info [--host NAME] [--profile P] [--json]</c>: the sysfs view and every iommufd object.</summary>
internal static class InfoCommand
{
    public static Command Create(CliIo io)
    {
        var json = new Option<bool>("--json") { Description = "Print JSON" };
        var host = new HostOptions();
        var cmd = new Command("info", "Show a host: TSMs, PCI functions, sysfs TSM attributes, VMs, iommufd objects");
        host.AddTo(cmd);
        cmd.Options.Add(json);
        cmd.SetAction(pr =>
        {
            var kernel = host.Boot(pr, io.Error);
            if (kernel is null) return Program.UsageError;
            io.Out.Write(pr.GetValue(json) ? HostReport.Json(kernel) + "\n" : HostReport.Tree(kernel));
            return 0;
        });
        return cmd;
    }
}
