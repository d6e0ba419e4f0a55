using TsmLab.Tracing;

namespace TsmLab.Kernel.Pci;

/// <summary>
/// A PCIe device plugged into a machine: the functions it presents (each with its configuration
/// space, the DSM with its DOE mailbox). The host kernel enumerates them; nothing reaches the
/// device other than through those.
/// </summary>
public interface IPciEndpoint
{
    /// <summary>The functions the device presents, PF first.</summary>
    IReadOnlyList<PciFunctionSpec> Functions { get; }

    /// <summary>Records the device's side of every exchange on <paramref name="lane"/> (null stops recording).</summary>
    void AttachTrace(TraceLog? log, string lane);
}
