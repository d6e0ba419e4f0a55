namespace TsmLab.Abi;

/// <summary>
/// <c>enum iommu_vdevice_tsm_guest_tvm_arch</c> (K5r proposal 2026-06-02; kamalca tree
/// include/uapi/linux/iommufd.h). 0 is invalid.
/// </summary>
public enum TvmArch : uint
{
    None = 0,
    Cca = 1,
    Sev = 2,
    Tdx = 3,
}

/// <summary>
/// The op-arch profile's one global op namespace (<c>enum iommu_vdevice_tsm_guest_req_op</c>):
/// 1-4 as in the kamalca tree (KC), 5-7 as the Arm CCA integration tree uses them (OV); 8 and 9
/// are TsmLab definitions: TDX's evidence read (docs/tdx.md) and SEV-TIO's TDI_INFO guest message
/// (docs/sev-tio.md), each tagged with its one architecture.
/// </summary>
public enum TsmReqOp : uint
{
    ValidateMmio = 1,
    SetTdiState = 2,
    SevEnableDma = 3,
    SevDisableDma = 4,
    ReadObject = 5,
    RegenObject = 6,
    ObjectInfo = 7,
    TdxReadEvidence = 8,
    SevTdiInfo = 9,
}

/// <summary>
/// <c>IOMMU_VDEVICE_TSM_REQ_PCI_*</c> scopes of the v5 series (linux-uapi.md §2.6); the kernel's
/// <c>enum pci_tsm_req_scope</c> uses the same values.
/// </summary>
public enum TsmReqScope : uint
{
    PciInfo = 0,
    PciStateChange = 1,
    PciDebugRead = 2,
    PciDebugWrite = 3,
}

/// <summary>
/// What a request does, decided by the platform from the payload (TsmLab's answer to "what is
/// the consequence of a wrong scope"): the kernel compares it with a caller's declared scope.
/// Numerically equal to the scope that describes it.
/// </summary>
public enum TsmReqClass : uint
{
    Info = 0,
    StateChange = 1,
    DebugRead = 2,
    DebugWrite = 3,
}

/// <summary>The two ABI profiles of <c>IOMMU_VDEVICE_TSM_REQ</c>, chosen per host.</summary>
public enum TsmAbiProfile
{
    /// <summary>The 48-byte op + tvm_arch + tsm_code layout (K5r, KC, CCA v7 integration). Default.</summary>
    OpArch,
    /// <summary>The 40-byte scope layout of the reviewed v4/v5 series (K5).</summary>
    Scope,
}

/// <summary>Parsing and printing profile names as the command line spells them.</summary>
public static class TsmAbiProfiles
{
    public static string Name(this TsmAbiProfile p) => p == TsmAbiProfile.Scope ? "scope" : "op-arch";

    /// <summary>Every profile's name, the default first.</summary>
    public static IReadOnlyList<string> Names { get; } = ["op-arch", "scope"];

    /// <summary>The profile a name from <see cref="Names"/> spells; anything else is a caller's bug (ArgumentException).</summary>
    public static TsmAbiProfile Parse(string text) =>
        TryParse(text, out var profile) ? profile : throw new ArgumentException($"'{text}' is not a TSM_REQ profile name", nameof(text));

    public static bool TryParse(string? text, out TsmAbiProfile profile)
    {
        switch (text)
        {
            case "op-arch": profile = TsmAbiProfile.OpArch; return true;
            case "scope": profile = TsmAbiProfile.Scope; return true;
            default: profile = TsmAbiProfile.OpArch; return false;
        }
    }
}
