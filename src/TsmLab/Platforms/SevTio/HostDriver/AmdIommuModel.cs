using TsmLab.Platforms.SevTio.Firmware;

namespace TsmLab.Platforms.SevTio.HostDriver;

/// <summary>The host IOMMU's secure-DMA view per function, refreshed on notification.</summary>
/// <remarks>
/// The host's AMD IOMMU as far as SEV-TIO needs it: after the PSP writes or clears a TDI's secure
/// device table entry, the host driver notifies the IOMMU (Alexey's "TSM call plus host-IOMMU
/// notification", linux-uapi.md §5), which re-reads the SDTE the firmware owns and flushes its
/// device-table cache. DMA to guest private memory follows the SDTE's V bit, not the host's word.
/// </remarks>
public sealed class AmdIommuModel(PspFirmware psp)
{
    private readonly Dictionary<uint, bool> secureDma = [];
    private readonly byte[] sdte = new byte[Sdte.Size];

    /// <summary>Every notification: function id and the secure-DMA state the IOMMU found.</summary>
    public List<(uint FunctionId, bool SecureDma)> Notifications { get; } = [];

    /// <summary>True when the IOMMU lets the function DMA to its guest's private memory.</summary>
    public bool SecureDmaEnabled(uint functionId) => secureDma.GetValueOrDefault(functionId);

    /// <summary>INVALIDATE_DEVTAB_ENTRY after an SDTE change: the IOMMU re-reads the firmware's SDTE.</summary>
    public void SecureDteChanged(uint functionId)
    {
        bool enabled = psp.TryReadSdte(functionId, sdte) && Sdte.IsValid(sdte);
        secureDma[functionId] = enabled;
        Notifications.Add((functionId, enabled));
    }
}
