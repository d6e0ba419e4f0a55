namespace TsmLab.Platforms.Tdx.Firmware;

/// <summary>
/// A TD's private memory as the module writes it for a TDCALL output page (TDG.TDI.RD's hash
/// fields). The model keeps guest RAM in the VMM's mapping, so privacy itself is not modelled;
/// only the module and the TD write these pages.
/// </summary>
public interface ITdMemory
{
    /// <summary>Writes at a guest physical address; false outside the TD's memory.</summary>
    bool Write(ulong gpa, ReadOnlySpan<byte> bytes);
}
