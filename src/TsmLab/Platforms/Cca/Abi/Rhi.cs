namespace TsmLab.Platforms.Cca.Abi;

/// <summary>
/// Realm Host Interface device-assignment calls (platforms-and-tdisp.md §2.1): the FIDs a realm
/// guest passes in gprs[0] of RSI_HOST_CALL [A3,Q2], their x0 status codes, the feature bits,
/// the object types and the TDI state argument. FID = 0xC5000000 | n (fast, SMC64, owner 5).
/// </summary>
public static class Rhi
{
    public const ulong DaFeatures = 0xC500004B;
    public const ulong DaObjectSize = 0xC500004C;
    public const ulong DaObjectRead = 0xC500004D;
    public const ulong HostconfVersion = 0xC500004E;
    public const ulong HostconfFeatures = 0xC500004F;
    public const ulong HostconfIpaChangeAlignment = 0xC5000050;
    public const ulong DaVdevContinue = 0xC5000051;
    public const ulong DaVdevGetMeasurements = 0xC5000052;
    public const ulong DaVdevGetInterfaceReport = 0xC5000053;
    public const ulong DaVdevSetTdiState = 0xC5000054;
    public const ulong DaVdevAbort = 0xC5000056;

    /// <summary>The FID range KVM's SMCCC filter forwards to user space (FWD_TO_USER) [A4,X2].</summary>
    public const ulong FirstForwarded = DaFeatures, LastForwarded = DaVdevAbort;

    /// <summary>True for a DA call the VMM handles (0x4E-0x50 are host configuration, handled in KVM).</summary>
    public static bool IsDeviceAssignment(ulong fid) =>
        fid is >= FirstForwarded and <= LastForwarded && fid is not (HostconfVersion or HostconfFeatures or HostconfIpaChangeAlignment);

    /// <summary>SMCCC NOT_SUPPORTED (-1): DA_FEATURES on a host without DA, or an unknown FID.</summary>
    public const ulong NotSupported = ulong.MaxValue;

    /// <summary>Feature bits of DA_FEATURES [A3,A6].</summary>
    public const ulong FeatObjectSize = 1 << 0, FeatObjectRead = 1 << 1, FeatVdevContinue = 1 << 2,
        FeatGetMeasurement = 1 << 3, FeatGetInterfaceReport = 1 << 4, FeatSetTdiState = 1 << 5,
        FeatP2pUnbind = 1 << 6, FeatAbort = 1 << 7;

    /// <summary>What the guest requires before it registers its TSM: b0|b1|b3|b4|b5 [A3].</summary>
    public const ulong BaseFeatures = FeatObjectSize | FeatObjectRead | FeatGetMeasurement | FeatGetInterfaceReport | FeatSetTdiState;

    /// <summary>RHI object types [A3] (differ from the RMM's cache object ids).</summary>
    public const ulong ObjCertificate = 1, ObjMeasurement = 2, ObjInterfaceReport = 3, ObjVca = 4;

    /// <summary>The guest's cap on one object (MAX_CACHE_OBJ_SIZE) [A3].</summary>
    public const int MaxObjectSize = 16 << 20;

    /// <summary>TDI state argument of DA_VDEV_SET_TDI_STATE [A3].</summary>
    public const ulong TdiConfigUnlocked = 0, TdiConfigLocked = 1, TdiRun = 2;

    /// <summary>Measurement params page (IPA in x2 of GET_MEASUREMENTS), RFC v3 layout [A3]: flags u64 @0 (0 HASH, 1 RAW), nonce[32] @0x100; Sz 0x200.</summary>
    public const int MeasParamsFlags = 0, MeasParamsNonce = 0x100, MeasParamsSize = 0x200, NonceSize = 32;
}

/// <summary>RHI status values in x0 [A3,Q2].</summary>
public enum RhiStatus : ulong
{
    Success = 0,
    Incomplete = 1,
    DataNotAvailable = 2,
    InvalidVdevId = 3,
    InvalidObject = 4,
    Input = 5,
    Device = 6,
    InvalidOffset = 7,
    AccessFailed = 8,
    Busy = 9,
    AbortedOperationHadCompleted = 0xA,
    /// <summary>RHI_DA_ERROR_OBJECT_UNSUPPORTED (11) [AC1]: a defined object type this host does not serve. Defined, not returned: the ACS's unsupported type (EXTENSION_EVIDENCE = 4) is VCA in the guest RFC's numbering [A3] that TsmLab follows.</summary>
    ObjectUnsupported = 0xB,
}
