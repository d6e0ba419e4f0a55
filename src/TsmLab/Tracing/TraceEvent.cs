namespace TsmLab.Tracing;

/// <summary>The layer a boundary crossing starts from (the left column of a sequence diagram).</summary>
public enum TraceLayer
{
    Guest,
    Vmm,
    Kernel,
    TsmCore,
    Firmware,
    Device,
}

/// <summary>What kind of crossing an event records.</summary>
public enum TraceKind
{
    /// <summary>A guest exit (hypercall, GHCB) reaching the VMM.</summary>
    GuestExit,
    /// <summary>An ioctl: the decoded struct and its result.</summary>
    Ioctl,
    /// <summary>A decision of the TSM core (bind, unbind, a request passed on).</summary>
    Decision,
    /// <summary>A request refused, with its reason.</summary>
    Rejection,
    /// <summary>A firmware call (RMI, PSP command).</summary>
    FirmwareCall,
    /// <summary>A TDISP or IDE_KM message, decoded.</summary>
    DeviceMessage,
    /// <summary>A state change, with the state before and after.</summary>
    StateChange,
}

/// <summary>One named value of an event (a struct field, a register, a message field).</summary>
public readonly record struct TraceField(string Name, string Value);

/// <summary>
/// One boundary crossing: a monotonic sequence number, the layer it starts from and the one it
/// reaches, what it was, its result, and its decoded fields.
/// </summary>
public sealed record TraceEvent(long Seq, TraceLayer From, TraceLayer To, TraceKind Kind, string Name, string Result, IReadOnlyList<TraceField> Fields);
