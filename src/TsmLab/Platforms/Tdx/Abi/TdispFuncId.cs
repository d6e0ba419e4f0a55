using TsmLab.Kernel.Pci;

namespace TsmLab.Platforms.Tdx.Abi;

/// <summary>
/// The TDISP func_id of the tdx-host driver [TX4]: bits 15:0 RID (bus &lt;&lt; 8 | devfn), bits 23:16
/// PCI segment, bit 24 segment-valid, set only when the segment is not 0. The guest uses the same
/// encoding (0x1a2b, segment 7 → 0x01071a2b [TX18]).
/// </summary>
public static class TdispFuncId
{
    public const uint SegmentValid = 1u << 24;

    public static uint Of(ushort segment, ushort rid) => segment == 0 ? rid : SegmentValid | ((uint)(byte)segment << 16) | rid;

    public static uint Of(PciAddress a) => Of(a.Segment, a.RequesterId);

    /// <summary>The RID part (what TDISP's INTERFACE_ID carries as the function).</summary>
    public static ushort Rid(uint funcId) => (ushort)funcId;
}
