using System.Buffers.Binary;

namespace TsmLab.Platforms.Tdx.Abi;

/// <summary>
/// GHCI 2.0 <c>TDG.VP.VMCALL&lt;TDCM&gt;</c> (TEE-IO Device Configuration and Management) [TX17]: the
/// guest calls <c>_tdx_hypercall(TDVMCALL_TDCM, devid, shared GPA, size, vector)</c>, i.e.
/// R10 = 0 (GHCI), R11 = sub-function, R12 = devid (u16 RID), R13 = GPA of a page-aligned shared
/// buffer, R14 = its size, R15 = event-notify vector (0: synchronous); the status comes back in R10
/// [TX30]. The buffer holds a header then data; the guest sets WAIT and polls for COMPLETED.
/// </summary>
/// <remarks>
/// TsmLab definition: GHCI 2.0's sub-function number, op and status values and header offsets
/// are not in the public sources. TsmLab uses sub-function 0x10100 (clear of the public 0x1000x
/// leaves), the header below, ops 1–4 for the four GHCI operations and two TsmLab operations
/// (START_TDI, GET_DEVICE_INFO) that GHCI's public description lacks.
/// </remarks>
public static class Tdcm
{
    /// <summary>TDVMCALL_TDCM (R11), TsmLab definition.</summary>
    public const ulong SubFunction = 0x10100;

    // Shared-buffer header (TsmLab layout): operation u8 @0, status u8 @1, reserved u16 @2,
    // error u32 @4 (the host's errno, 0 on success), data_length u32 @8, reserved u32 @12,
    // tsm_code u64 @16 (the firmware status the host saw), data @24.
    public const int Operation = 0, Status = 1, Error = 4, DataLength = 8, TsmCode = 16, Data = 24, HeaderSize = 24;

    public const byte OpCheckTeeioSupp = 1, OpBind = 2, OpUnbind = 3, OpGetTdiReport = 4;
    /// <summary>TsmLab operations: ask the host to TDH.TDI.START after TDG.TDI.START; fetch the device's attestation info.</summary>
    public const byte OpStartTdi = 5, OpGetDeviceInfo = 6;

    public const byte StatusIdle = 0, StatusWait = 1, StatusCompleted = 2;

    /// <summary>The largest buffer the VMM serves: 4 pages (a report or a certificate chain fits).</summary>
    public const int MaxBufferSize = 4 * 4096;

    public static string OpName(byte op) => op switch
    {
        OpCheckTeeioSupp => "CHECK_TEEIO_SUPP",
        OpBind => "BIND",
        OpUnbind => "UNBIND",
        OpGetTdiReport => "GET_TDI_REPORT",
        OpStartTdi => "START_TDI",
        OpGetDeviceInfo => "GET_DEVICE_INFO",
        _ => $"op {op}",
    };

    public static uint ReadDataLength(ReadOnlySpan<byte> page) => BinaryPrimitives.ReadUInt32LittleEndian(page[DataLength..]);
}

/// <summary>TDG.VP.VMCALL statuses (R10) [TX30].</summary>
public static class TdvmcallStatus
{
    public const ulong Success = 0, Retry = 1;
    public const ulong InvalidOperand = 0x8000_0000_0000_0000, AlignError = 0x8000_0000_0000_0002, SubfuncUnsupported = 0x8000_0000_0000_0003;

    public static string NameOf(ulong s) => s switch
    {
        Success => "SUCCESS",
        Retry => "RETRY",
        InvalidOperand => "INVALID_OPERAND",
        AlignError => "ALIGN_ERROR",
        SubfuncUnsupported => "SUBFUNC_UNSUPPORTED",
        _ => $"0x{s:x}",
    };
}

/// <summary>
/// The parts of <c>struct kvm_run</c> a TDX VMM reads for KVM_EXIT_TDX (40) [TX31]: exit_reason
/// u32 @8; <c>tdx { u64 flags @32; u64 nr @40; union { unknown { u64 ret @48; u64 data[5] @56 } } }</c>.
/// KVM presets ret to SUBFUNC_UNSUPPORTED; a VMM that serves the call overwrites it. For TDCM,
/// data[0..3] carry R12..R15 (TsmLab definition: upstream KVM forwards only GetQuote,
/// GetTdVmCallInfo and SetupEventNotifyInterrupt; the "unknown" arm is how it would forward TDCM).
/// </summary>
public static class KvmRunTdx
{
    public const uint ExitTdx = 40;
    public const int ExitReason = 8, Flags = 32, Nr = 40, Ret = 48, Data = 56, Size = 96;
}
