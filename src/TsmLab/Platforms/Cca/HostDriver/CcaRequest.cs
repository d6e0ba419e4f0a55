using System.Buffers.Binary;
using TsmLab.Abi;
using TsmLab.Platforms.Cca.Abi;

namespace TsmLab.Platforms.Cca.HostDriver;

/// <summary>What a CCA guest request asks the host driver to do, whichever profile it came in.</summary>
internal enum CcaRequestKind { ObjectInfo, ReadObject, RegenObject, ValidateMmio, SetTdiState }

/// <summary>
/// One decoded CCA guest request. Decodes the op-arch payloads (OV/CC: no sub-command word;
/// VALIDATE_MMIO 24 B, SET_TDI_STATE 4 B, OBJECT_INFO 4 B, READ_OBJECT 16 B, REGEN_OBJECT 24 B,
/// object types in RMM numbering) and the scope payloads of RFC v4 (§2.2 [A7,Q2]: a u32
/// req_type first, object types in RHI numbering). Lengths must be exact; reserved words zero.
/// </summary>
internal readonly record struct CcaRequest(CcaRequestKind Kind, CacheObject Object, ulong Offset, ulong Flags, ulong NoncePtr,
    ulong GpaBase, ulong GpaTop, ulong PaBase, uint TdiState)
{
    /// <summary>Scope-profile req_type values of RFC v4 [A7].</summary>
    public const uint ReqObjectSize = 1, ReqObjectRead = 2, ReqUpdateInterfaceReport = 3, ReqUpdateMeasurements = 4, ReqVdevMap = 5, ReqSetTdiState = 6;

    /// <summary>The payload sizes of each req_type (index = req_type).</summary>
    public static ReadOnlySpan<int> ScopeSizes => [0, 8, 16, 4, 24, 32, 8];

    public static bool TryDecodeOpArch(TsmReqOp op, ReadOnlySpan<byte> p, out CcaRequest r)
    {
        r = default;
        switch (op)
        {
            case TsmReqOp.ValidateMmio when p.Length == 24:
                r = new(CcaRequestKind.ValidateMmio, 0, 0, 0, 0, U64(p, 0), U64(p, 8), U64(p, 16), 0);
                return true;
            case TsmReqOp.SetTdiState when p.Length == 4:
                r = new(CcaRequestKind.SetTdiState, 0, 0, 0, 0, 0, 0, 0, U32(p, 0));
                return true;
            case TsmReqOp.ObjectInfo when p.Length == 4:
                return RmmObject(U32(p, 0), out var o1) && Set(out r, new(CcaRequestKind.ObjectInfo, o1, 0, 0, 0, 0, 0, 0, 0));
            case TsmReqOp.ReadObject when p.Length == 16 && U32(p, 4) == 0:
                return RmmObject(U32(p, 0), out var o2) && Set(out r, new(CcaRequestKind.ReadObject, o2, U64(p, 8), 0, 0, 0, 0, 0, 0));
            case TsmReqOp.RegenObject when p.Length == 24 && U32(p, 4) == 0:
                return RmmObject(U32(p, 0), out var o3) && Set(out r, new(CcaRequestKind.RegenObject, o3, 0, U64(p, 8), U64(p, 16), 0, 0, 0, 0));
            default:
                return false;
        }
    }

    public static bool TryDecodeScope(ReadOnlySpan<byte> p, out CcaRequest r, out TsmReqClass cls)
    {
        r = default;
        cls = TsmReqClass.Info;
        if (p.Length < 4) return false;
        uint type = U32(p, 0);
        if (type == 0 || type >= (uint)ScopeSizes.Length || p.Length != ScopeSizes[(int)type]) return false;
        switch (type)
        {
            case ReqObjectSize:
                return RhiObject(U32(p, 4), out var o1) && Set(out r, new(CcaRequestKind.ObjectInfo, o1, 0, 0, 0, 0, 0, 0, 0));
            case ReqObjectRead:
                return RhiObject(U32(p, 4), out var o2) && Set(out r, new(CcaRequestKind.ReadObject, o2, U64(p, 8), 0, 0, 0, 0, 0, 0));
            case ReqUpdateInterfaceReport:
                r = new(CcaRequestKind.RegenObject, CacheObject.InterfaceReport, 0, 0, 0, 0, 0, 0, 0);
                return true;
            case ReqUpdateMeasurements:
                if (U32(p, 4) != 0) return false;
                r = new(CcaRequestKind.RegenObject, CacheObject.Measurements, 0, U64(p, 8), U64(p, 16), 0, 0, 0, 0);
                return true;
            case ReqVdevMap:
                if (U32(p, 4) != 0) return false;
                cls = TsmReqClass.StateChange;
                r = new(CcaRequestKind.ValidateMmio, 0, 0, 0, 0, U64(p, 8), U64(p, 16), U64(p, 24), 0);
                return true;
            default: // ReqSetTdiState
                cls = TsmReqClass.StateChange;
                r = new(CcaRequestKind.SetTdiState, 0, 0, 0, 0, 0, 0, 0, U32(p, 4));
                return true;
        }
    }

    /// <summary>RMM cache object ids 0-3 (op-arch payloads).</summary>
    public static bool RmmObject(uint v, out CacheObject o)
    {
        o = (CacheObject)v;
        return v <= (uint)CacheObject.InterfaceReport;
    }

    /// <summary>RHI object types 1-4 to RMM ids [A3,R1].</summary>
    public static bool RhiObject(ulong v, out CacheObject o)
    {
        o = v switch
        {
            Rhi.ObjCertificate => CacheObject.Certificate,
            Rhi.ObjMeasurement => CacheObject.Measurements,
            Rhi.ObjInterfaceReport => CacheObject.InterfaceReport,
            Rhi.ObjVca => CacheObject.Vca,
            _ => (CacheObject)uint.MaxValue,
        };
        return v is >= Rhi.ObjCertificate and <= Rhi.ObjVca;
    }

    private static bool Set(out CcaRequest r, CcaRequest v) { r = v; return true; }
    private static uint U32(ReadOnlySpan<byte> p, int o) => BinaryPrimitives.ReadUInt32LittleEndian(p[o..]);
    private static ulong U64(ReadOnlySpan<byte> p, int o) => BinaryPrimitives.ReadUInt64LittleEndian(p[o..]);
}
