namespace TsmLab.Platforms;

/// <summary>The steps every platform's guest TSM driver takes, in order.</summary>
public enum GuestStep
{
    /// <summary>Bind the device (the host locks the TDI) and check its evidence.</summary>
    Lock,
    /// <summary>Validate the TEE MMIO ranges and move the TDI to RUN.</summary>
    Accept,
    /// <summary>Let the device DMA into private memory.</summary>
    EnableDma,
    /// <summary>Stop DMA and return the TDI to CONFIG_UNLOCKED.</summary>
    Unlock,
    /// <summary>Fetch fresh measurements and check them again.</summary>
    RefreshEvidence,
}

/// <summary>Which layer of the path said no.</summary>
public enum RefusingLayer
{
    /// <summary>Nobody: the step succeeded.</summary>
    None,
    /// <summary>The guest itself (evidence that does not match, a malformed answer).</summary>
    Guest,
    /// <summary>The VMM's exit handling, or the host kernel below it (an errno turned into the platform's status).</summary>
    Host,
    /// <summary>The platform firmware (RMM, PSP, TDX module) answered with a failure status.</summary>
    Firmware,
}

/// <summary>
/// How one guest step ended: which step, whether it succeeded, which layer refused it, the
/// status or errno that layer gave (the platform's own encoding, 0 when none), and a line for people.
/// </summary>
public readonly record struct GuestStepResult(GuestStep Step, bool Ok, RefusingLayer RefusedBy, long Code, string Detail)
{
    /// <summary>A successful step.</summary>
    public static GuestStepResult Success(GuestStep step, string detail) => new(step, true, RefusingLayer.None, 0, detail);

    /// <summary>A refused step.</summary>
    public static GuestStepResult Refused(GuestStep step, RefusingLayer layer, long code, string detail) => new(step, false, layer, code, detail);
}

/// <summary>
/// A confidential guest's TSM driver in the one shape all platforms share: lock (bind and
/// evidence check), accept (MMIO validation and RUN), enable DMA, unlock, refresh evidence.
/// Each call crosses to the VMM only through the platform's own exit.
/// </summary>
public interface ITsmGuest
{
    GuestStepResult Lock();
    GuestStepResult Accept();
    GuestStepResult EnableDma();
    GuestStepResult Unlock();
    GuestStepResult RefreshEvidence();

    /// <summary>The guest holds evidence it checked against the firmware's record.</summary>
    bool EvidenceVerified { get; }

    /// <summary>The guest has enabled DMA and not disabled it since.</summary>
    bool DmaEnabled { get; }
}
