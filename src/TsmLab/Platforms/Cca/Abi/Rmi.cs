namespace TsmLab.Platforms.Cca.Abi;

/// <summary>
/// Realm Management Interface calls the host uses (platforms-and-tdisp.md §2.4; FID =
/// 0xC4000000 | n) [A7,A11,R1], with the realm/REC calls the model needs from RMM 1.0
/// (REALM_CREATE 0x158, REC_CREATE 0x15A, REC_ENTER 0x15C) and the PDEV calls of the
/// arm-cca-host tree (0x174-0x178, 0x17C).
/// </summary>
public static class Rmi
{
    public const ulong RealmCreate = 0xC4000158;
    public const ulong RecCreate = 0xC400015A;
    public const ulong RecEnter = 0xC400015C;
    public const ulong RttDevValidate = 0xC4000163;
    public const ulong PdevAbort = 0xC4000174;
    public const ulong PdevCommunicate = 0xC4000175;
    public const ulong PdevCreate = 0xC4000176;
    public const ulong PdevDestroy = 0xC4000177;
    public const ulong PdevGetState = 0xC4000178;
    public const ulong PdevSetPubkey = 0xC400017B;
    public const ulong PdevStop = 0xC400017C;
    public const ulong VdevAbort = 0xC4000185;
    public const ulong VdevCommunicate = 0xC4000186;
    public const ulong VdevCreate = 0xC4000187;
    public const ulong VdevDestroy = 0xC4000188;
    public const ulong VdevGetState = 0xC4000189;
    public const ulong VdevUnlock = 0xC400018A;
    public const ulong VdevGetInterfaceReport = 0xC40001D0;
    public const ulong VdevGetMeasurements = 0xC40001D1;
    public const ulong VdevLock = 0xC40001D2;
    public const ulong VdevStart = 0xC40001D3;
    public const ulong RttDevMap = 0xC40001F7;
    public const ulong RttDevUnmap = 0xC40001F8;

    /// <summary>rmi_vdev_params (4 KiB) [A7]: flags @0, vdev_id @8 (guest RID), tdi_id @0x10 (host pci_dev_id), vsmmu_addr @0x20, vsid @0x28, num_addr_range @0x30, addr_range[8] @0x200 (base u64, top u64).</summary>
    public const int VdevParamsFlags = 0, VdevParamsVdevId = 8, VdevParamsTdiId = 0x10, VdevParamsVsmmuAddr = 0x20,
        VdevParamsVsid = 0x28, VdevParamsNumAddrRange = 0x30, VdevParamsAddrRange = 0x200, VdevParamsMaxRanges = 8;

    /// <summary>rmi_vdev_measurement_params [A7]: flags u64 @0 (0 HASH, 1 RAW), nonce[32] @0x100.</summary>
    public const int MeasParamsFlags = 0, MeasParamsNonce = 0x100;

    /// <summary>
    /// struct rmi_pdev_params (RmiPdevParams, 4 KiB) [TR1]: flags @0 (b0 spdm, b2:1 category),
    /// hb_base @8, pdev_id @0x10, routing_id @0x18, id_index @0x20, rid_base u32 @0x28, rid_top u32
    /// @0x30 (exclusive), hash_algo u8 @0x38. (The spec draft's B4.6.46 order differs: it has no
    /// hb_base and hash_algo @0x30; TsmLab follows the pinned TF-RMM.)
    /// </summary>
    public const int PdevParamsFlags = 0, PdevParamsHbBase = 8, PdevParamsPdevId = 0x10, PdevParamsRoutingId = 0x18, PdevParamsIdIndex = 0x20,
        PdevParamsRidBase = 0x28, PdevParamsRidTop = 0x30, PdevParamsHashAlgo = 0x38;

    /// <summary>RmiPdevFlags: b0 the device speaks SPDM; b2:1 category (0 root port, 1 off-chip accelerator endpoint, 2 on-chip).</summary>
    public const ulong PdevFlagSpdm = 1, PdevCategoryEndpointOffChip = 1UL << 1;

    /// <summary>
    /// struct rmi_public_key_params (4 KiB) [TR1]: key[1024] @0, metadata[1024] @0x400, key_len @0x800,
    /// metadata_len @0x808, algo u8 @0x810 (RmiSignatureAlgorithm). key_len must be the algorithm's size:
    /// 65 (P-256) or 97 (P-384) bytes, the uncompressed point 04 || X || Y; 384 for RSASSA-3072.
    /// </summary>
    public const int PubkeyKey = 0, PubkeyMetadata = 0x400, PubkeyKeyLen = 0x800, PubkeyMetadataLen = 0x808, PubkeyAlgo = 0x810, PubkeyKeyMax = 1024;

    /// <summary>RmiSignatureAlgorithm: RSASSA_3072 0, ECDSA_P256 1, ECDSA_P384 2.</summary>
    public const byte SignatureRsassa3072 = 0, SignatureEcdsaP256 = 1, SignatureEcdsaP384 = 2;

    /// <summary>The key length RMI_PDEV_SET_PUBKEY requires for a signature algorithm, or 0 for an unknown one.</summary>
    public static int PubkeySize(ulong algo) => algo switch
    {
        SignatureEcdsaP256 => 65,
        SignatureEcdsaP384 => 97,
        SignatureRsassa3072 => 384,
        _ => 0,
    };

    /// <summary>
    /// RmiDevCommData, the device communication granule of PDEV/VDEV_COMMUNICATE [TR1]: enter (host →
    /// RMM) status u8 @0 (<see cref="CommEnterStatusNone"/>, RESPONSE, ERROR), req_addr @8, resp_addr
    /// @0x10, resp_len @0x18 (the device's answer now in the response buffer); exit (RMM → host) @0x800:
    /// flags, req_cache_offset/len @+8/+0x10, rsp_cache_offset/len @+0x18/+0x20, cache_obj_id @+0x28,
    /// protocol @+0x30 (SPDM 0, SECURE_SPDM 1), req_delay @+0x38, req_len @+0x40, timeout @+0x48.
    /// TsmLab definition: enter.buffer_size @0x20, the size of each of the two host buffers (TF-RMM's are
    /// one granule each; the model's hold a whole DOE object and a 64 KiB cache piece).
    /// </summary>
    public const int CommEnterStatus = 0, CommEnterReqAddr = 8, CommEnterRspAddr = 0x10, CommEnterRspLen = 0x18, CommEnterBufferSize = 0x20,
        CommExitFlags = 0x800, CommExitReqCacheOffset = 0x808, CommExitReqCacheLen = 0x810, CommExitRspCacheOffset = 0x818,
        CommExitRspCacheLen = 0x820, CommExitObjId = 0x828, CommExitProtocol = 0x830, CommExitReqDelay = 0x838, CommExitReqLen = 0x840,
        CommExitTimeout = 0x848;

    /// <summary>RmiDevCommEnterStatus [TR1]: NONE 0 (nothing to hand over), RESPONSE 1 (the device answered), ERROR 2 (the host could not reach it).</summary>
    public const byte CommEnterStatusNone = 0, CommEnterStatusResponse = 1, CommEnterStatusError = 2;

    /// <summary>
    /// RmiDevCommExitFlags [TR1]: b0 REQ_CACHE, b1 RSP_CACHE (cache rsp_cache_len bytes of the response
    /// buffer at rsp_cache_offset as object cache_obj_id), b2 REQ_SEND (send req_len bytes of the request
    /// buffer to the device), b3 RSP_WAIT, b4 RSP_RESET (TsmLab use: the cached object starts anew with
    /// this piece), b5 MULTI.
    /// </summary>
    public const ulong CommExitFlagReqCache = 1, CommExitFlagRspCache = 2, CommExitFlagReqSend = 4, CommExitFlagRspWait = 8,
        CommExitFlagRspReset = 0x10, CommExitFlagMulti = 0x20;

    /// <summary>RmiDevCommProtocol [TR1]: the DOE data object type the request is for.</summary>
    public const ulong CommProtocolSpdm = 0, CommProtocolSecureSpdm = 1;

    /// <summary>
    /// REC run page (RmiRecRun): entry.flags @0, entry.gprs[31] @0x200; exit at 0x800:
    /// exit_reason @+0, gprs[31] @+0x200, vdev_id_1 @+0x530, dev_mem_base @+0x540,
    /// dev_mem_top @+0x548, dev_mem_pa @+0x550 [A11]; imm @+0x600 (host call immediate).
    /// </summary>
    public const int RunEntryFlags = 0, RunEntryGprs = 0x200, RunExit = 0x800, RunExitReason = RunExit, RunExitGprs = RunExit + 0x200,
        RunExitVdevId = RunExit + 0x530, RunExitDevMemBase = RunExit + 0x540, RunExitDevMemTop = RunExit + 0x548,
        RunExitDevMemPa = RunExit + 0x550, RunExitImm = RunExit + 0x600, RunGprCount = 31;

    /// <summary>RmiRttProtMapFlags / RmiRttUnmapFlags [TR1]: oaddr_type in bits 1:0 (NONE 0, SINGLE 1, LIST 2), list count in bits 15:2.</summary>
    public const ulong AddrTypeNone = 0, AddrTypeSingle = 1, AddrTypeList = 2, MapFlagsOaddrTypeMask = 3;

    /// <summary>
    /// RmiAddrRangeDesc4KB [TR1]: SZ bits 1:0 (the block size: 0 = 4 KiB), CNT bits 11:2 (number of
    /// blocks), ADDR bits 51:12 (the first block's PA &gt;&gt; 12), ST bit 63 (memory state).
    /// </summary>
    public static ulong AddrRangeDesc(ulong pa, ulong count, ulong sz = 0) => (sz & 3) | ((count & 0x3FF) << 2) | (pa & 0x000F_FFFF_FFFF_F000);

    /// <summary>The fields of an RmiAddrRangeDesc4KB.</summary>
    public static (ulong Pa, ulong Count, ulong Sz) ReadAddrRangeDesc(ulong desc) => (desc & 0x000F_FFFF_FFFF_F000, (desc >> 2) & 0x3FF, desc & 3);

    /// <summary>REC_ENTER_FLAG_DEV_MEM_RESPONSE (bit 6): the host refused the validate-mapping request [A7].</summary>
    public const ulong RecEnterFlagDevMemResponse = 1 << 6;

    /// <summary>RMI_EXIT_HOST_CALL.</summary>
    public const ulong ExitHostCall = 5;

    /// <summary>Granule size.</summary>
    public const int Granule = 4096;
}

/// <summary>RMI return codes (x0) [A11].</summary>
public enum RmiStatus : ulong
{
    Success = 0,
    ErrorInput = 1,
    ErrorRealm = 2,
    ErrorRec = 3,
    ErrorRtt = 4,
    ErrorNotSupported = 5,
    ErrorDevice = 6,
    Busy = 10,
    Incomplete = 13,
}

/// <summary>VDEV states [A7,R1] (the v4 host's KEY_REFRESH/KEY_PURGE are not modelled).</summary>
public enum VdevState : ulong
{
    New = 0,
    Unlocked = 1,
    Locked = 2,
    Started = 3,
    Error = 4,
}

/// <summary>RmmPdevState [TR1]: NEW 0, NEEDS_KEY 1, HAS_KEY 2, READY 3, STOPPED 4, ERROR 5.</summary>
public enum PdevState : ulong
{
    New = 0,
    NeedsKey = 1,
    HasKey = 2,
    Ready = 3,
    Stopped = 4,
    Error = 5,
}

/// <summary>RmiDevCommObject (cache_obj_id) [R1,A11]; not the RHI numbering.</summary>
public enum CacheObject : uint
{
    Vca = 0,
    Certificate = 1,
    Measurements = 2,
    InterfaceReport = 3,
}

/// <summary>
/// RMI_EXIT_VDEV_VALIDATE_MAPPING's number: the sources disagree (§2.3), so it is an option of
/// the RMM model.
/// </summary>
public enum ValidateMappingExitNumbering
{
    /// <summary>0x09, the v4 host patch (RMM 2.0bet1) [A7]. Default.</summary>
    V4Patch,
    /// <summary>0x08, the RMM 2.0-bet3 header [A11].</summary>
    Rmm20Bet3,
}
