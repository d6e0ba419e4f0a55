using TsmLab.Tdisp.Wire;

namespace TsmLab.Tdisp.Device;

/// <summary>
/// How a function's BARs become the MMIO ranges of its interface report (§5.5) [D1,O1]: one range
/// per BAR region, the MSI-X table and PBA pages cut out as their own ranges (attribute bits
/// b0/b1), range_id = BAR index, first_page = BAR address + region offset + MMIO_REPORTING_OFFSET.
/// Without LOCK_MSIX the table and PBA stay host-owned, so they carry IS_NON_TEE_MEM (a modelling
/// choice, see docs/tdisp.md). Segments are computed once; the report is written at LOCK time into
/// a preallocated buffer without allocating.
/// </summary>
internal sealed class InterfaceReportLayout
{
    private readonly record struct Segment(int BarSlot, ulong Offset, uint Pages, MmioRangeAttributes Attributes, ushort RangeId);

    private readonly Segment[] segments;
    private readonly MmioRange[] scratch;

    public FunctionLayout Layout { get; }
    public int RangeCount => segments.Length;

    public InterfaceReportLayout(FunctionLayout layout)
    {
        Layout = layout;
        var segs = new List<Segment>();
        for (int slot = 0; slot < layout.Bars.Count; slot++)
        {
            var bar = layout.Bars[slot];
            var cuts = new List<(ulong Start, ulong End, MmioRangeAttributes Attr)>();
            if (layout.Msix is { } m)
            {
                if (m.TableBar == bar.Index)
                    cuts.Add((Floor(m.TableOffset), Ceil(m.TableOffset + m.TableBytes), MmioRangeAttributes.MsixTable));
                if (m.PbaBar == bar.Index)
                    cuts.Add((Floor(m.PbaOffset), Ceil(m.PbaOffset + m.PbaBytes), MmioRangeAttributes.MsixPba));
            }
            cuts.Sort((a, b) => a.Start.CompareTo(b.Start));
            var normal = bar.MemAttrUpdatable ? MmioRangeAttributes.IsMemAttrUpdatable : MmioRangeAttributes.None;
            ulong at = 0;
            foreach (var (start, end, attr) in cuts)
            {
                if (start > at)
                    segs.Add(new Segment(slot, at, Pages(start - at), normal, (ushort)bar.Index));
                segs.Add(new Segment(slot, start, Pages(end - start), attr, (ushort)bar.Index));
                at = end;
            }
            if (at < bar.Size)
                segs.Add(new Segment(slot, at, Pages(bar.Size - at), normal, (ushort)bar.Index));
        }
        segments = [.. segs.OrderBy(s => layout.Bars[s.BarSlot].Index).ThenBy(s => s.Offset)];
        scratch = new MmioRange[segments.Length];
    }

    /// <summary>The report size for this function with the given device-specific info.</summary>
    public int ReportSize(int deviceSpecificInfoLength) => InterfaceReport.SizeOf(segments.Length, deviceSpecificInfoLength);

    /// <summary>False when some range would overflow 64 bits once the reporting offset is added.</summary>
    public bool FitsWithOffset(ReadOnlySpan<ulong> barAddresses, ulong reportingOffset)
    {
        for (int i = 0; i < Layout.Bars.Count; i++)
        {
            ulong end = barAddresses[i] + Layout.Bars[i].Size - 1;
            if (end < barAddresses[i] || end + reportingOffset < end)
                return false;
        }
        return true;
    }

    /// <summary>Writes the report for the current BAR addresses and lock parameters; returns its size.</summary>
    public int Write(Span<byte> destination, ReadOnlySpan<ulong> barAddresses, in LockInterfaceParameters lockParams,
        InterfaceInfo info, ushort msixMessageControl, ReadOnlySpan<byte> deviceSpecificInfo)
    {
        bool msixLocked = (lockParams.Flags & LockInterfaceFlags.LockMsix) != 0;
        for (int i = 0; i < segments.Length; i++)
        {
            var s = segments[i];
            var attr = s.Attributes;
            if (!msixLocked && (attr & (MmioRangeAttributes.MsixTable | MmioRangeAttributes.MsixPba)) != 0)
                attr |= MmioRangeAttributes.IsNonTeeMem;
            scratch[i] = new MmioRange(barAddresses[s.BarSlot] + s.Offset + lockParams.MmioReportingOffset, s.Pages, attr, s.RangeId);
        }
        var fields = new InterfaceReportFields(info, msixLocked ? msixMessageControl : (ushort)0, 0, 0);
        return InterfaceReport.Write(destination, fields, scratch, deviceSpecificInfo);
    }

    private static ulong Floor(ulong v) => v & ~(ulong)(MmioRange.PageSize - 1);
    private static ulong Ceil(ulong v) => (v + MmioRange.PageSize - 1) & ~(ulong)(MmioRange.PageSize - 1);
    private static uint Pages(ulong bytes) => (uint)(bytes / MmioRange.PageSize);
}
