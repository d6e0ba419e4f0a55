using TsmLab.Abi;

namespace TsmLab.Kernel.Tsm;

/// <summary>
/// One op a platform serves: its number in the global op namespace, its class, and its payload
/// sizes (-1: variable, bounded by the platform's maxima). Reported by TSM_INFO and used by the
/// scope profile's classification.
/// </summary>
public sealed record TsmOpDescriptor(TsmReqOp Op, TsmReqClass Class, int RequestLength, int ResponseLength);
