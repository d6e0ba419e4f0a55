namespace TsmLab.Platforms.Tdx.Abi;

/// <summary>
/// The general-purpose registers a SEAMCALL or TDCALL reads and writes (Linux
/// <c>struct tdx_module_args</c> holds the same set): RAX carries the leaf on entry
/// (bits 15:0 leaf, 23:16 version [TX1]) and the completion status on return; the other
/// registers are the leaf's inputs and outputs. A plain value type: a call never allocates.
/// </summary>
public struct TdxRegisters
{
    public ulong Rax, Rcx, Rdx, R8, R9, R10, R11, R12, R13, R14, R15;

    /// <summary>RAX for <paramref name="leaf"/> at <paramref name="version"/>: bits 15:0 leaf, 23:16 version [TX1].</summary>
    public static ulong LeafRax(ushort leaf, byte version = 0) => leaf | ((ulong)version << 16);

    /// <summary>The leaf number of an entry RAX.</summary>
    public readonly ushort Leaf => (ushort)Rax;

    /// <summary>The leaf version of an entry RAX.</summary>
    public readonly byte Version => (byte)(Rax >> 16);

    /// <summary>RAX bits 63:24 must be zero on entry (TsmLab: the module refuses them with OPERAND_INVALID).</summary>
    public readonly bool HasReservedRaxBits => (Rax >> 24) != 0;
}
