// Command buffer layouts of the TIO firmware commands. Only sev_data_tio_guest_request's field
// order is public [S5] (length, reserved, spdm_ctrl, dev_ctx_sla, tdi_ctx_sla, gctx_paddr,
// req_paddr, res_paddr); its field sizes, the param words after it, and every other command's
// buffer are TsmLab definitions (docs/sev-tio.md). Every buffer starts with length u32 @0 (must
// equal the command's size, else INVALID_LEN) and reserved u32 @4.
using TsmLab.Platforms.SevTio.Firmware;
using TsmLab.Platforms.SevTio.HostDriver;
using TsmLab.Platforms.SevTio.Vmm;
using TsmLab.Platforms.SevTio.Kvm;
using TsmLab.Platforms.SevTio.Guest;

namespace TsmLab.Platforms.SevTio.Abi;

/// <summary>Offsets and sizes of the TIO command buffers.</summary>
public static class PspCommandBuffer
{
    public const int Length = 0;

    public static class TioStatus { public const int Size = 16, OutFlags = 8, OutDevices = 12; }
    public static class TioInit { public const int Size = 8; }
    public static class DevCreate { public const int Size = 24, DeviceId = 8, StreamId = 12, OutDevCtx = 16; }
    /// <summary>DEV_RECLAIM, DEV_CONNECT, DEV_DISCONNECT.</summary>
    public static class DevCtxOnly { public const int Size = 16, DevCtx = 8; }
    public static class DevStatus { public const int Size = 24, DevCtx = 8, OutFlags = 16, OutTdis = 20; public const uint Connected = 1; }
    public static class DevMeasurements
    {
        public const int Size = 72, DevCtx = 8, Flags = 16, Nonce = 24, OutPaddr = 56, OutLen = 64;
        public const uint FlagNonce = 1;
    }
    public static class DevCertificates { public const int Size = 32, DevCtx = 8, OutPaddr = 16, OutLen = 24; }
    public static class TdiCreate { public const int Size = 40, DevCtx = 8, FunctionId = 16, GuestRid = 20, Asid = 24, OutTdiCtx = 32; }
    /// <summary>TDI_RECLAIM, TDI_UNBIND.</summary>
    public static class TdiCtxOnly { public const int Size = 16, TdiCtx = 8; }
    public static class TdiBind
    {
        public const int Size = 24, TdiCtx = 8, Flags = 16;
        /// <summary>b0-b4: the TDISP LOCK_INTERFACE flags. b31 (TsmLab): START the locked TDI (SEV_TIO_OP RUN).</summary>
        public const uint FlagRun = 1u << 31, LockFlagMask = 0x1F;
    }
    public static class TdiReport { public const int Size = 32, TdiCtx = 8, OutPaddr = 16, OutLen = 24; }
    public static class TdiStatus { public const int Size = 24, TdiCtx = 8, OutState = 16, OutTdispState = 20; }
    /// <summary>TDI_INFO (0xE3): p1 bits 2-3 = 0 UNBOUND, 1 BIND_LOCKED, 2 BIND_RUN [S5].</summary>
    public static class TdiInfo { public const int Size = 24, TdiCtx = 8, OutP1 = 16; }
    public static class GuestRequest
    {
        public const int Size = 88, SpdmCtrl = 8, DevCtx = 32, TdiCtx = 40, Gctx = 48, ReqPaddr = 56, ResPaddr = 64,
            ParamIn = 72, ParamOut = 80;
    }
}

/// <summary>The firmware's bind state of a TDI (TDI_INFO p1 bits 2-3 [S5]).</summary>
public enum TdiFirmwareState : uint
{
    Unbound = 0,
    BindLocked = 1,
    BindRun = 2,
}
