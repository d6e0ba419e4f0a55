namespace TsmLab.Kernel.Tsm;

/// <summary>
/// Why a TSM request was refused before or instead of reaching firmware. Counted per vDevice
/// and shown by <c>tsmlab info</c> and TSM_INFO's <c>out_rejections</c>.
/// </summary>
public enum TsmRejection
{
    None = 0,
    /// <summary>op-arch: tvm_arch is not CCA, SEV or TDX (EINVAL).</summary>
    UnknownArch,
    /// <summary>op-arch: the op is not defined for that arch (EINVAL).</summary>
    OpNotValidForArch,
    /// <summary>op-arch: tvm_arch differs from the KVM VM's architecture (EINVAL, TsmLab check).</summary>
    ArchNotVm,
    /// <summary>The TSM behind the function serves another architecture (EINVAL, backend check).</summary>
    ArchNotTsm,
    /// <summary>scope: __reserved is not zero (EOPNOTSUPP).</summary>
    ReservedNotZero,
    /// <summary>scope: above IOMMU_VDEVICE_TSM_REQ_SCOPE_PCI_LAST (EINVAL).</summary>
    ScopeOutOfRange,
    /// <summary>scope: DEBUG_READ or DEBUG_WRITE, which pci_tsm_guest_req refuses (EINVAL).</summary>
    DebugScope,
    /// <summary>scope: the payload does something other than the declared scope says (EINVAL; firmware not called).</summary>
    ScopeMismatch,
    /// <summary>The function is not connected to a link TSM (ENXIO).</summary>
    NotConnected,
    /// <summary>The function is not bound as a TDI (ENXIO).</summary>
    NotBound,
    /// <summary>req_len above the TSM's maximum, resp_len above INT_MAX (its residue would not fit the return value), or the op is not one the TSM serves (EINVAL).</summary>
    NotServed,
    /// <summary>The platform refused the payload (EINVAL from the backend).</summary>
    PlatformRejected,
}
