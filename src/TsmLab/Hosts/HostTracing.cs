using TsmLab.Kernel;
using TsmLab.Tdisp.Device;
using TsmLab.Tracing;

namespace TsmLab.Hosts;

/// <summary>Attaches one trace log to a whole host: its kernel (and so its platform drivers and firmware) and every TDISP device behind its functions.</summary>
public static class HostTracing
{
    public static void Attach(HostKernel kernel, TraceLog log)
    {
        kernel.Trace = log;
        foreach (var dsm in kernel.Functions.Select(f => f.DeviceModel).OfType<DeviceSecurityManager>().Distinct())
            DeviceTrace.Attach(dsm, log, kernel.Configuration.Name);
    }
}
