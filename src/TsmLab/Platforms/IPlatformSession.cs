using TsmLab.Kernel;
using TsmLab.Tdisp.Wire;
using TsmLab.Vmm;

namespace TsmLab.Platforms;

/// <summary>
/// One booted host of a platform with a VMM process that ran the assignment sequence and a guest
/// whose device requests reach that VMM through the platform's exits.
/// </summary>
public interface IPlatformSession
{
    /// <summary>The booted host kernel.</summary>
    HostKernel Kernel { get; }

    /// <summary>The VMM's assignment sequence, every call with its answer.</summary>
    DeviceAssignment Assignment { get; }

    /// <summary>True when every call of the assignment sequence succeeded.</summary>
    bool Prepared { get; }

    /// <summary>The guest's TSM driver.</summary>
    ITsmGuest Guest { get; }

    /// <summary>The assigned function's TDI state as the device holds it (observation only: nothing here drives the device).</summary>
    TdiState DeviceTdiState { get; }
}
