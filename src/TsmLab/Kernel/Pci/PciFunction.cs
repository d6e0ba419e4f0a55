using TsmLab.Kernel.Tsm;

namespace TsmLab.Kernel.Pci;

/// <summary>
/// A PCI function of the host (<c>struct pci_dev</c>) as the TSM core sees it: its address, ids,
/// whether it is TEE-capable (has a TDISP interface), and its Device Security Manager: the
/// function 0 that owns the device's SPDM/IDE link (<c>pci_tsm_pf0</c>), itself for that PF0.
/// </summary>
public sealed class PciFunction
{
    public PciFunction(PciAddress address, ushort vendorId, ushort deviceId, bool teeCapable, PciFunction? dsm = null, int iommu = 0)
    {
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

    /// <summary>An opaque slot for the device model behind this function (the TDISP device, set by the host configuration).</summary>
    public object? DeviceModel { get; set; }

    /// <summary>
    /// <c>pci_try_reset_function</c>: a function-level reset, which the device sees as a config
    /// write (Initiate FLR), not as a TDISP message. A TDI that was LOCKED or RUN goes to ERROR
    /// (TDISP), so a device the host gave up on never stays trusted with no binding.
    /// </summary>
    internal void Reset()
    {
        if (DeviceModel is Tdisp.Device.DeviceSecurityManager dsm)
            dsm.FindInterface(Tdisp.Wire.TdiFunctionId.FromRid(Address.RequesterId))?.FunctionLevelReset();
    }

    public override string ToString() => Address.ToString();
}
