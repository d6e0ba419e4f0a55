namespace TsmLab.Platforms;

/// <summary>The guest of a session whose assignment failed: every step is refused by the host.</summary>
public sealed class NoGuest : ITsmGuest
{
    public static readonly NoGuest Instance = new();
    private static GuestStepResult No(GuestStep s) => GuestStepResult.Refused(s, RefusingLayer.Host, 0, "the device was never assigned");
    public GuestStepResult Lock() => No(GuestStep.Lock);
    public GuestStepResult Accept() => No(GuestStep.Accept);
    public GuestStepResult EnableDma() => No(GuestStep.EnableDma);
    public GuestStepResult Unlock() => No(GuestStep.Unlock);
    public GuestStepResult RefreshEvidence() => No(GuestStep.RefreshEvidence);
    public bool EvidenceVerified => false;
    public bool DmaEnabled => false;
}
