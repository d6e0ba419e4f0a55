using TsmLab.Kernel.Tsm;

namespace TsmLab.Kernel.Pci;

/// <summary>
/// A PCI function of the host (<c>struct pci_dev</c>) as the TSM core sees it: its address, ids,
/// whether it is TEE-capable (has a TDISP interface), and its Device Security Manager: the
/// function 0 that owns the device's SPDM/IDE link (<c>pci_tsm_pf0</c>), itself for that PF0.
/// </summary>
public sealed class PciFunction
{
    public PciFunction(PciAddress address, ushort vendorId, ushort deviceId, bool teeCapable, PciFunction? dsm = null, int iommu = 0,
        PciConfigSpace? config = null, IDoeMailbox? doe = null)
    {
        Config = config ?? PciConfigSpace.Minimal(vendorId, deviceId);
        Doe = doe;
        Address = address;
        VendorId = vendorId;
        DeviceId = deviceId;
        TeeCapable = teeCapable;
        Dsm = dsm ?? this;
        Iommu = iommu;
        if (IsDsm) DsmState = new DsmState(this);
    }

    public PciAddress Address { get; }
    public ushort VendorId { get; }
    public ushort DeviceId { get; }
    /// <summary>The function carries a TDISP interface (sysfs shows <c>tsm/bound</c>).</summary>
    public bool TeeCapable { get; }
    /// <summary>The function's DSM (PF0 of the device).</summary>
    public PciFunction Dsm { get; }
    public bool IsDsm => ReferenceEquals(Dsm, this);
    /// <summary>Which of the host's IOMMU instances translates for this function.</summary>
    public int Iommu { get; }

    /// <summary>Link state kept on PF0 (connect, lock, request buffer); null on other functions.</summary>
    internal DsmState? DsmState { get; }

    /// <summary>The TDI while bound through TSM_OP, else null.</summary>
    public TsmTdi? Tdi { get; internal set; }

    /// <summary>The link TSM this function's DSM is connected to, or null.</summary>
    public TsmDev? ConnectedTsm => Dsm.DsmState!.ConnectedTsm;

    /// <summary>Why the last connect of this function's DSM failed ("tsmN: reason"), or null.</summary>
    public string? ConnectFailure => Dsm.DsmState!.ConnectFailure;

    /// <summary>The function's configuration space: the one way the host reads IDs, BARs and capabilities.</summary>
    public PciConfigSpace Config { get; }

    /// <summary>The function's DOE mailbox (a DSM's), or null: the one way the host talks to the device's security manager.</summary>
    public IDoeMailbox? Doe { get; }

    /// <summary>The root certificate provisioned for this DSM's SPDM chain (PciFunctionSpec.SpdmRoot), or null.</summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? SpdmRoot { get; init; }

    /// <summary>The memory BARs enumeration found (<c>pci_resource_start/len</c>), read from config space at boot.</summary>
    public IReadOnlyList<PciResource> Resources { get; internal set; } = [];

    /// <summary>True when [start, start + length) lies inside one of this function's BARs.</summary>
    public bool ContainsMmio(ulong start, ulong length)
    {
        foreach (var r in Resources)
            if (r.Contains(start, length)) return true;
        return false;
    }

    /// <summary>
    /// <c>pci_try_reset_function</c>: a function-level reset, which the device sees as a config
    /// write (Initiate FLR in Device Control), not as a TDISP message. A TDI that was LOCKED or RUN goes to ERROR
    /// (TDISP), so a device the host gave up on never stays trusted with no binding.
    /// </summary>
    internal void Reset() => Config.InitiateFunctionLevelReset();

    public override string ToString() => Address.ToString();
}
