using System.Buffers.Binary;

namespace TsmLab.Tdisp.Wire;

/// <summary>interface_info bits; bits 5-15 must be 0 for TDISP 1.0 [D1,V1].</summary>
/// <remarks>
/// DEVICE_INTERFACE_REPORT body [D1,O1,T4] (§5.5): 0 interface_info u16 | 2 reserved u16 | 4
/// msi_x_message_control u16 | 6 lnr_control u16 8 tph_control u32 | 12 mmio_range_count u32 | 16
/// MMIO_RANGE[n] (16 B each) then device_specific_info_len u32 and device_specific_info[].
/// </remarks>
[Flags]
public enum InterfaceInfo : ushort
{
    None = 0,
    /// <summary>No firmware updates while LOCKED or RUN.</summary>
    NoUpdateAfterLock = 1 << 0,
    DmaWithoutPasid = 1 << 1,
    DmaWithPasid = 1 << 2,
    Ats = 1 << 3,
    Prs = 1 << 4,
    /// <summary>XT mode (TDISP newer than 1.0 only).</summary>
    Xt = 1 << 5,
}

/// <summary>The fixed fields of a device interface report [D1].</summary>
public readonly record struct InterfaceReportFields(InterfaceInfo InterfaceInfo, ushort MsixMessageControl, ushort LnrControl, uint TphControl);

/// <summary>Reader and writer for the DEVICE_INTERFACE_REPORT body (the reassembled report) [D1].</summary>
public readonly ref struct InterfaceReport
{
    public const int FixedSize = 16;

    private readonly ReadOnlySpan<byte> body;

    public InterfaceReportFields Fields { get; }
    public int RangeCount { get; }
    public ReadOnlySpan<byte> DeviceSpecificInfo { get; }

    private InterfaceReport(ReadOnlySpan<byte> body, InterfaceReportFields fields, int count, ReadOnlySpan<byte> dsi)
    {
        this.body = body;
        Fields = fields;
        RangeCount = count;
        DeviceSpecificInfo = dsi;
    }

    /// <summary>The size of a report with <paramref name="rangeCount"/> ranges and the given device-specific info.</summary>
    public static int SizeOf(int rangeCount, int deviceSpecificInfoLength) => FixedSize + rangeCount * MmioRange.Size + 4 + deviceSpecificInfoLength;

    public MmioRange GetRange(int index) => MmioRange.Read(body.Slice(FixedSize + index * MmioRange.Size, MmioRange.Size));

    /// <summary>Parses a complete report; false when sizes are inconsistent.</summary>
    public static bool TryRead(ReadOnlySpan<byte> body, out InterfaceReport report)
    {
        report = default;
        if (body.Length < FixedSize + 4)
            return false;
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(body[12..]);
        if (count > (uint)(body.Length - FixedSize - 4) / MmioRange.Size)
            return false;
        int dsiLenAt = FixedSize + (int)count * MmioRange.Size;
        uint dsiLen = BinaryPrimitives.ReadUInt32LittleEndian(body[dsiLenAt..]);
        if (dsiLen != (uint)(body.Length - dsiLenAt - 4))
            return false;
        var fields = new InterfaceReportFields(
            (InterfaceInfo)BinaryPrimitives.ReadUInt16LittleEndian(body),
            BinaryPrimitives.ReadUInt16LittleEndian(body[4..]),
            BinaryPrimitives.ReadUInt16LittleEndian(body[6..]),
            BinaryPrimitives.ReadUInt32LittleEndian(body[8..]));
        report = new InterfaceReport(body, fields, (int)count, body[(dsiLenAt + 4)..]);
        return true;
    }

    /// <summary>Writes the report header and device-specific info around ranges written by the caller;
    /// call <see cref="WriteRange"/> for each range. Returns the total size.</summary>
    public static int Write(Span<byte> destination, in InterfaceReportFields fields, ReadOnlySpan<MmioRange> ranges, ReadOnlySpan<byte> deviceSpecificInfo)
    {
        int size = SizeOf(ranges.Length, deviceSpecificInfo.Length);
        var m = destination[..size];
        m.Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(m, (ushort)fields.InterfaceInfo);
        BinaryPrimitives.WriteUInt16LittleEndian(m[4..], fields.MsixMessageControl);
        BinaryPrimitives.WriteUInt16LittleEndian(m[6..], fields.LnrControl);
        BinaryPrimitives.WriteUInt32LittleEndian(m[8..], fields.TphControl);
        BinaryPrimitives.WriteUInt32LittleEndian(m[12..], (uint)ranges.Length);
        for (int i = 0; i < ranges.Length; i++)
            WriteRange(m, i, ranges[i]);
        int dsiAt = FixedSize + ranges.Length * MmioRange.Size;
        BinaryPrimitives.WriteUInt32LittleEndian(m[dsiAt..], (uint)deviceSpecificInfo.Length);
        deviceSpecificInfo.CopyTo(m[(dsiAt + 4)..]);
        return size;
    }

    /// <summary>Overwrites range <paramref name="index"/> of a written report.</summary>
    public static void WriteRange(Span<byte> report, int index, in MmioRange range) =>
        range.Write(report.Slice(FixedSize + index * MmioRange.Size, MmioRange.Size));
}
