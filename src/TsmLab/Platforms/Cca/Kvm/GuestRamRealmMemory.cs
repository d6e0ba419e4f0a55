using TsmLab.Platforms.Cca.Firmware;
using TsmLab.Vmm;

namespace TsmLab.Platforms.Cca.Kvm;

/// <summary>
/// The realm's memory for the RMM: the model keeps all realm RAM in the VMM's guest-RAM mapping
/// (IPA = GPA), so protected and unprotected IPAs are not told apart and the RMM reads and writes
/// the same bytes the guest does. A real RMM reaches protected granules the host cannot.
/// </summary>
public sealed class GuestRamRealmMemory(GuestRam ram) : IRealmMemory
{
    public bool Read(ulong ipa, Span<byte> destination) => ram.Read(ipa, destination);
    public bool Write(ulong ipa, ReadOnlySpan<byte> source) => ram.Write(ipa, source);
}
