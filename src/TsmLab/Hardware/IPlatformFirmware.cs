using TsmLab.Tracing;

namespace TsmLab.Hardware;

/// <summary>
/// A machine's platform firmware (Arm's RMM, AMD's PSP, Intel's TDX module) as the machine holds
/// it. Host drivers and KVM are handed the platform's own interface to it (SMC/RMI, the PSP
/// mailbox, SEAMCALL); this is only what the machine itself needs: a name and where to trace.
/// </summary>
public interface IPlatformFirmware
{
    /// <summary>What the firmware is ("RMM", "PSP").</summary>
    string Name { get; }

    /// <summary>Records every call into the firmware on <paramref name="log"/> (null stops recording).</summary>
    void AttachTrace(TraceLog? log);
}
