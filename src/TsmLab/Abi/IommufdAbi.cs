using System.Buffers.Binary;
namespace TsmLab.Abi;

// Numbers and layouts of include/uapi/linux/iommufd.h (torvalds/linux; iommufd TSM series v5,
// "[PATCH v5 5/5] iommufd/vdevice: add TSM request ioctl", 2026-05-25; the op-arch layout from
// the K5r proposal and the kamalca tree). Minimum sizes follow the IOCTL_OP table of
// drivers/iommu/iommufd/main.c. See docs/abi.md.

/// <summary>iommufd ioctl numbers: <c>_IO(IOMMUFD_TYPE=';', IOMMUFD_CMD_BASE + n)</c>.</summary>
public static class IommufdIoctl
{
    public const uint Type = 0x3B;
    public const uint CmdBase = 0x80;

    public const uint Destroy = 0x3B80;          // IOMMUFD_CMD_DESTROY
    public const uint IoasAlloc = 0x3B81;        // IOMMUFD_CMD_IOAS_ALLOC
    public const uint IoasAllowIovas = 0x3B82;   // IOMMUFD_CMD_IOAS_ALLOW_IOVAS
    public const uint IoasCopy = 0x3B83;         // IOMMUFD_CMD_IOAS_COPY
    public const uint IoasIovaRanges = 0x3B84;   // IOMMUFD_CMD_IOAS_IOVA_RANGES
    public const uint IoasMap = 0x3B85;          // IOMMUFD_CMD_IOAS_MAP
    public const uint IoasUnmap = 0x3B86;        // IOMMUFD_CMD_IOAS_UNMAP
    public const uint Option = 0x3B87;           // IOMMUFD_CMD_OPTION
    public const uint VfioIoas = 0x3B88;         // IOMMUFD_CMD_VFIO_IOAS
    public const uint HwptAlloc = 0x3B89;        // IOMMUFD_CMD_HWPT_ALLOC
    public const uint GetHwInfo = 0x3B8A;        // IOMMUFD_CMD_GET_HW_INFO
    public const uint HwptSetDirtyTracking = 0x3B8B; // IOMMUFD_CMD_HWPT_SET_DIRTY_TRACKING
    public const uint HwptGetDirtyBitmap = 0x3B8C;   // IOMMUFD_CMD_HWPT_GET_DIRTY_BITMAP
    public const uint HwptInvalidate = 0x3B8D;   // IOMMUFD_CMD_HWPT_INVALIDATE
    public const uint FaultQueueAlloc = 0x3B8E;  // IOMMUFD_CMD_FAULT_QUEUE_ALLOC (6.11)
    public const uint IoasMapFile = 0x3B8F;      // IOMMUFD_CMD_IOAS_MAP_FILE (6.13)
    public const uint ViommuAlloc = 0x3B90;      // IOMMUFD_CMD_VIOMMU_ALLOC
    public const uint VdeviceAlloc = 0x3B91;     // IOMMUFD_CMD_VDEVICE_ALLOC
    public const uint IoasChangeProcess = 0x3B92; // IOMMUFD_CMD_IOAS_CHANGE_PROCESS (6.14)
    public const uint VeventqAlloc = 0x3B93;     // IOMMUFD_CMD_VEVENTQ_ALLOC (6.15)
    public const uint HwQueueAlloc = 0x3B94;     // IOMMUFD_CMD_HW_QUEUE_ALLOC (6.17)
    public const uint VdeviceTsmOp = 0x3B95;     // IOMMUFD_CMD_VDEVICE_TSM_OP (K1, K2, K5)
    public const uint VdeviceTsmReq = 0x3B96;    // IOMMUFD_CMD_VDEVICE_TSM_REQ (K5; earlier ..._TSM_GUEST_REQUEST)
    /// <summary>TsmLab extension: discovery of the TSM behind a vDevice, far from Linux's range.</summary>
    public const uint VdeviceTsmInfo = 0x3BE0;
}

/// <summary><c>struct iommu_destroy</c>.</summary>
public static class IommuDestroy
{
    public const int Size = 0, Id = 4, SizeOf = 8;
    public static readonly AbiStruct Layout = AbiStruct.Define("iommu_destroy", SizeOf, "id",
        new("size", Size, 4), new("id", Id, 4));
}

/// <summary><c>struct iommu_ioas_alloc</c>.</summary>
public static class IommuIoasAlloc
{
    public const int Size = 0, Flags = 4, OutIoasId = 8, SizeOf = 12;
    public static readonly AbiStruct Layout = AbiStruct.Define("iommu_ioas_alloc", SizeOf, "out_ioas_id",
        new("size", Size, 4), new("flags", Flags, 4), new("out_ioas_id", OutIoasId, 4));
}

/// <summary><c>struct iommu_hwpt_alloc</c> (with data and fault fields, Linux 6.11+).</summary>
public static class IommuHwptAlloc
{
    public const int Size = 0, Flags = 4, DevId = 8, PtId = 12, OutHwptId = 16, Reserved = 20,
        DataType = 24, DataLen = 28, DataUptr = 32, FaultId = 40, Reserved2 = 44, SizeOf = 48;

    /// <summary><c>IOMMU_HWPT_ALLOC_NEST_PARENT</c>.</summary>
    public const uint FlagNestParent = 1u << 0;
    /// <summary><c>IOMMU_HWPT_ALLOC_DIRTY_TRACKING</c>.</summary>
    public const uint FlagDirtyTracking = 1u << 1;
    /// <summary><c>IOMMU_HWPT_FAULT_ID_VALID</c>.</summary>
    public const uint FlagFaultIdValid = 1u << 2;
    /// <summary><c>IOMMU_HWPT_ALLOC_PASID</c>.</summary>
    public const uint FlagPasid = 1u << 3;
    /// <summary><c>IOMMU_HWPT_DATA_NONE</c>.</summary>
    public const uint DataNone = 0;

    public static readonly AbiStruct Layout = AbiStruct.Define("iommu_hwpt_alloc", SizeOf, "__reserved",
        new("size", Size, 4), new("flags", Flags, 4), new("dev_id", DevId, 4), new("pt_id", PtId, 4),
        new("out_hwpt_id", OutHwptId, 4), new("__reserved", Reserved, 4), new("data_type", DataType, 4),
        new("data_len", DataLen, 4), new("data_uptr", DataUptr, 8), new("fault_id", FaultId, 4),
        new("__reserved2", Reserved2, 4));
}

/// <summary><c>struct iommu_viommu_alloc</c> (with data_len/data_uptr, Linux 6.16+).</summary>
public static class IommuViommuAlloc
{
    public const int Size = 0, Flags = 4, Type = 8, DevId = 12, HwptId = 16, OutViommuId = 20,
        DataLen = 24, Reserved = 28, DataUptr = 32, SizeOf = 40;

    /// <summary><c>IOMMU_VIOMMU_TYPE_DEFAULT</c>: rejected with EOPNOTSUPP upstream.</summary>
    public const uint TypeDefault = 0;
    /// <summary><c>IOMMU_VIOMMU_TYPE_ARM_SMMUV3</c>.</summary>
    public const uint TypeArmSmmuV3 = 1;
    /// <summary><c>IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV</c>.</summary>
    public const uint TypeTegra241Cmdqv = 2;
    /// <summary>
    /// 3: <c>IOMMU_VIOMMU_TYPE_ARM_REALM_SMMUV3</c> in the Arm CCA tree (OV) and
    /// <c>IOMMU_VIOMMU_TYPE_AMD</c> in the AMD tree: the same number, meaning set by the host's IOMMU.
    /// </summary>
    public const uint TypeArmRealmSmmuV3OrAmd = 3;

    public static readonly AbiStruct Layout = AbiStruct.Define("iommu_viommu_alloc", SizeOf, "out_viommu_id",
        new("size", Size, 4), new("flags", Flags, 4), new("type", Type, 4), new("dev_id", DevId, 4),
        new("hwpt_id", HwptId, 4), new("out_viommu_id", OutViommuId, 4), new("data_len", DataLen, 4),
        new("__reserved", Reserved, 4), new("data_uptr", DataUptr, 8));
}

/// <summary><c>struct iommu_fault_alloc</c>: a fault queue and its fd.</summary>
public static class IommuFaultAlloc
{
    public const int Size = 0, Flags = 4, OutFaultId = 8, OutFaultFd = 12, SizeOf = 16;
    public static readonly AbiStruct Layout = AbiStruct.Define("iommu_fault_alloc", SizeOf, "out_fault_fd",
        new("size", Size, 4), new("flags", Flags, 4), new("out_fault_id", OutFaultId, 4), new("out_fault_fd", OutFaultFd, 4));
}

/// <summary><c>struct iommu_ioas_change_process</c>.</summary>
public static class IommuIoasChangeProcess
{
    public const int Size = 0, Reserved = 4, SizeOf = 8;
    public static readonly AbiStruct Layout = AbiStruct.Define("iommu_ioas_change_process", SizeOf, "__reserved",
        new("size", Size, 4), new("__reserved", Reserved, 4));
}

/// <summary><c>struct iommu_veventq_alloc</c>: a vIOMMU's event queue of one type and its fd.</summary>
public static class IommuVeventqAlloc
{
    public const int Size = 0, Flags = 4, ViommuId = 8, Type = 12, VeventqDepth = 16, OutVeventqId = 20,
        OutVeventqFd = 24, Reserved = 28, SizeOf = 32;
    /// <summary><c>IOMMU_VEVENTQ_TYPE_DEFAULT</c>: rejected.</summary>
    public const uint TypeDefault = 0;
    public static readonly AbiStruct Layout = AbiStruct.Define("iommu_veventq_alloc", SizeOf, "__reserved",
        new("size", Size, 4), new("flags", Flags, 4), new("viommu_id", ViommuId, 4), new("type", Type, 4),
        new("veventq_depth", VeventqDepth, 4), new("out_veventq_id", OutVeventqId, 4),
        new("out_veventq_fd", OutVeventqFd, 4), new("__reserved", Reserved, 4));
}

/// <summary><c>struct iommu_hw_queue_alloc</c>: a HW queue of a vIOMMU in guest memory.</summary>
public static class IommuHwQueueAlloc
{
    public const int Size = 0, Flags = 4, ViommuId = 8, Type = 12, Index = 16, OutHwQueueId = 20,
        NestingParentIova = 24, Length = 32, SizeOf = 40;
    /// <summary><c>IOMMU_HW_QUEUE_TYPE_DEFAULT</c>: rejected.</summary>
    public const uint TypeDefault = 0;
    public static readonly AbiStruct Layout = AbiStruct.Define("iommu_hw_queue_alloc", SizeOf, "length",
        new("size", Size, 4), new("flags", Flags, 4), new("viommu_id", ViommuId, 4), new("type", Type, 4),
        new("index", Index, 4), new("out_hw_queue_id", OutHwQueueId, 4),
        new("nesting_parent_iova", NestingParentIova, 8), new("length", Length, 8));
}

/// <summary><c>struct iommu_vdevice_alloc</c>.</summary>
public static class IommuVdeviceAlloc
{
    public const int Size = 0, ViommuId = 4, DevId = 8, OutVdeviceId = 12, VirtId = 16, SizeOf = 24;
    public static readonly AbiStruct Layout = AbiStruct.Define("iommu_vdevice_alloc", SizeOf, "virt_id",
        new("size", Size, 4), new("viommu_id", ViommuId, 4), new("dev_id", DevId, 4),
        new("out_vdevice_id", OutVdeviceId, 4), new("virt_id", VirtId, 8));
}

/// <summary><c>struct iommu_vdevice_tsm_op</c> (K5; linux-uapi.md §4).</summary>
public static class IommuVdeviceTsmOp
{
    public const int Size = 0, Type = 4, Flags = 8, VdeviceId = 12, SizeOf = 16;
    /// <summary><c>IOMMU_VDEVICE_TSM_BIND</c>.</summary>
    public const uint TypeBind = 1;
    /// <summary><c>IOMMU_VDEVICE_TSM_UNBIND</c>.</summary>
    public const uint TypeUnbind = 2;
    public static readonly AbiStruct Layout = AbiStruct.Define("iommu_vdevice_tsm_op", SizeOf, "vdevice_id",
        new("size", Size, 4), new("type", Type, 4), new("flags", Flags, 4), new("vdevice_id", VdeviceId, 4));
}

/// <summary><c>struct iommu_vdevice_tsm_req</c>, scope profile (v4/v5, 40 bytes; linux-uapi.md §2.4).</summary>
public static class IommuVdeviceTsmReqScope
{
    public const int Size = 0, VdeviceId = 4, Scope = 8, ReqLen = 12, RespLen = 16, Reserved = 20,
        ReqUptr = 24, RespUptr = 32, SizeOf = 40;
    /// <summary><c>IOMMU_VDEVICE_TSM_REQ_SCOPE_PCI_LAST</c>.</summary>
    public const uint ScopeLast = 3;
    /// <summary>Writes a whole request (the 40 bytes of <paramref name="s"/>), zeroing <c>__reserved</c>.</summary>
    public static void Write(Span<byte> s, uint vdeviceId, TsmReqScope scope, uint reqLen, uint respLen, ulong reqUptr, ulong respUptr)
    {
        s[..SizeOf].Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(s[Size..], SizeOf);
        BinaryPrimitives.WriteUInt32LittleEndian(s[VdeviceId..], vdeviceId);
        BinaryPrimitives.WriteUInt32LittleEndian(s[Scope..], (uint)scope);
        BinaryPrimitives.WriteUInt32LittleEndian(s[ReqLen..], reqLen);
        BinaryPrimitives.WriteUInt32LittleEndian(s[RespLen..], respLen);
        BinaryPrimitives.WriteUInt64LittleEndian(s[ReqUptr..], reqUptr);
        BinaryPrimitives.WriteUInt64LittleEndian(s[RespUptr..], respUptr);
    }

    public static readonly AbiStruct Layout = AbiStruct.Define("iommu_vdevice_tsm_req", SizeOf, "resp_uptr",
        new("size", Size, 4), new("vdevice_id", VdeviceId, 4), new("scope", Scope, 4), new("req_len", ReqLen, 4),
        new("resp_len", RespLen, 4), new("__reserved", Reserved, 4), new("req_uptr", ReqUptr, 8),
        new("resp_uptr", RespUptr, 8));
}

/// <summary><c>struct iommu_vdevice_tsm_req</c>, op-arch profile (48 bytes; linux-uapi.md §2.5).</summary>
public static class IommuVdeviceTsmReqOpArch
{
    public const int Size = 0, VdeviceId = 4, Op = 8, TvmArch = 12, ReqLen = 16, RespLen = 20,
        ReqUptr = 24, RespUptr = 32, TsmCode = 40, SizeOf = 48;
    /// <summary>Writes a whole request (the 48 bytes of <paramref name="s"/>), <c>tsm_code</c> zero.</summary>
    public static void Write(Span<byte> s, uint vdeviceId, TsmReqOp op, TvmArch arch, uint reqLen, uint respLen, ulong reqUptr, ulong respUptr)
    {
        s[..SizeOf].Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(s[Size..], SizeOf);
        BinaryPrimitives.WriteUInt32LittleEndian(s[VdeviceId..], vdeviceId);
        BinaryPrimitives.WriteUInt32LittleEndian(s[Op..], (uint)op);
        BinaryPrimitives.WriteUInt32LittleEndian(s[TvmArch..], (uint)arch);
        BinaryPrimitives.WriteUInt32LittleEndian(s[ReqLen..], reqLen);
        BinaryPrimitives.WriteUInt32LittleEndian(s[RespLen..], respLen);
        BinaryPrimitives.WriteUInt64LittleEndian(s[ReqUptr..], reqUptr);
        BinaryPrimitives.WriteUInt64LittleEndian(s[RespUptr..], respUptr);
    }

    public static readonly AbiStruct Layout = AbiStruct.Define("iommu_vdevice_tsm_req", SizeOf, "tsm_code",
        new("size", Size, 4), new("vdevice_id", VdeviceId, 4), new("op", Op, 4), new("tvm_arch", TvmArch, 4),
        new("req_len", ReqLen, 4), new("resp_len", RespLen, 4), new("req_uptr", ReqUptr, 8),
        new("resp_uptr", RespUptr, 8), new("tsm_code", TsmCode, 8));
}

/// <summary>
/// <c>struct iommu_vdevice_tsm_info</c>: TsmLab extension (docs/abi.md) answering "how does
/// userspace discover which TSM backs a vDevice". Size-extensible like every iommufd struct.
/// </summary>
public static class IommuVdeviceTsmInfo
{
    public const int Size = 0, VdeviceId = 4, Flags = 8, OutTsmId = 12, OutTvmArch = 16, OutBus = 20,
        OutTdiState = 24, OutFlags = 28, OutSupportedOps = 32, OutMaxReqLen = 40, OutMaxRespLen = 44,
        OutScopeMask = 48, OutRejections = 52, SizeOf = 56;

    /// <summary><c>out_tsm_id</c> when the function is connected to no TSM.</summary>
    public const uint NoTsm = 0xFFFF_FFFF;
    /// <summary><c>IOMMU_VDEVICE_TSM_BUS_PCI</c>: the only bus today.</summary>
    public const uint BusPci = 1;
    /// <summary><c>out_flags</c>: the function's DSM is connected to a link TSM.</summary>
    public const uint FlagConnected = 1u << 0;
    /// <summary><c>out_flags</c>: the TDI is bound (TSM_OP BIND succeeded).</summary>
    public const uint FlagBound = 1u << 1;
    /// <summary><c>out_flags</c>: a state-changing request completed but its copy-back faulted.</summary>
    public const uint FlagUncertainCompletion = 1u << 2;
    /// <summary><c>out_flags</c>: the kernel is in the scope profile (ops bitmap empty, scope mask set).</summary>
    public const uint FlagScopeProfile = 1u << 3;

    public static readonly AbiStruct Layout = AbiStruct.Define("iommu_vdevice_tsm_info", SizeOf, "out_rejections",
        new("size", Size, 4), new("vdevice_id", VdeviceId, 4), new("flags", Flags, 4), new("out_tsm_id", OutTsmId, 4),
        new("out_tvm_arch", OutTvmArch, 4), new("out_bus", OutBus, 4), new("out_tdi_state", OutTdiState, 4),
        new("out_flags", OutFlags, 4), new("out_supported_ops", OutSupportedOps, 8),
        new("out_max_req_len", OutMaxReqLen, 4), new("out_max_resp_len", OutMaxRespLen, 4),
        new("out_scope_mask", OutScopeMask, 4), new("out_rejections", OutRejections, 4));
}
