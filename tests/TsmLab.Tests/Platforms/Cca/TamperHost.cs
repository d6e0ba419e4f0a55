using TsmLab.Abi;
using TsmLab.Kernel;
using TsmLab.Platforms.Cca;
using TsmLab.Tdisp.Device;
using TsmLab.Tests.Tdisp;

namespace TsmLab.Tests.Platforms.Cca;

/// <summary>A <c>cca</c> host whose device sits behind a mailbox that can flip the next START nonce (a test double for a stale or corrupted nonce).</summary>
internal static class TamperHost
{
    public static HostConfiguration Configuration(TsmAbiProfile profile, out StartNonceTamper.Mailbox tamper)
    {
        var device = TdispPciDevice.CreateDefault();
        tamper = new StartNonceTamper.Mailbox(device.Mailbox);
        var config = CcaHost.Configuration(profile, device);
        return config with { Functions = [config.Functions[0] with { Doe = tamper }, .. config.Functions.Skip(1)] };
    }
}
