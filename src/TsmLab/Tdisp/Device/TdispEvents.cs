using TsmLab.Tdisp.Wire;

namespace TsmLab.Tdisp.Device;

/// <summary>One request/response crossing at the device.</summary>
/// <param name="Protocol">TDISP or IDE_KM.</param>
/// <param name="RequestCode">TDISP request code or IDE_KM object id (0xFF when the message was empty).</param>
/// <param name="ResponseCode">TDISP response code or IDE_KM object id; null when the device gave no response.</param>
/// <param name="FunctionId">The function_id the request named (0 for IDE_KM).</param>
/// <param name="StateBefore">The named TDI's state before; null when no TDI was resolved.</param>
/// <param name="StateAfter">The named TDI's state after; null when no TDI was resolved.</param>
/// <param name="Error">The TDISP_ERROR code answered, or None.</param>
/// <remarks>
/// Trace hooks: every TDISP/IDE_KM exchange with the TDI state before and after (as OpenVMM's
/// emulator records [O1]), and every TDI state change with its cause. Both are structs passed to
/// optional delegates, so nothing allocates when no listener is attached.
/// </remarks>
public readonly record struct TdispExchangeEvent(
    VdmProtocolId Protocol,
    byte RequestCode,
    byte? ResponseCode,
    TdiFunctionId FunctionId,
    TdiState? StateBefore,
    TdiState? StateAfter,
    TdispErrorCode Error);

/// <summary>Why a TDI changed state.</summary>
public enum TdiStateChangeCause
{
    LockInterface,
    StartInterface,
    StopInterface,
    /// <summary>A config-space write to a register locked while LOCKED/RUN.</summary>
    ConfigWrite,
    /// <summary>A BAR was moved while LOCKED/RUN.</summary>
    BarChange,
    /// <summary>A function-level reset (of the TDI, or of its PF) while LOCKED/RUN.</summary>
    FunctionLevelReset,
}

/// <summary>A TDI moved from one state to another.</summary>
public readonly record struct TdiStateChange(TdiFunctionId FunctionId, TdiState From, TdiState To, TdiStateChangeCause Cause);
