using TsmLab.Kernel;
using TsmLab.Tracing;

namespace TsmLab.Hosts;

/// <summary>Attaches one trace log to a whole host: the machine carries it to its kernel, firmware and devices.</summary>
public static class HostTracing
{
    public static void Attach(HostKernel kernel, TraceLog log) => kernel.Trace = log;
}
