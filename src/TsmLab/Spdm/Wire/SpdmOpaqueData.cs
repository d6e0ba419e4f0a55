using System.Buffers.Binary;

namespace TsmLab.Spdm.Wire;

/// <summary>
/// Opaque data in the general opaque data table (OpaqueDataFmt1) carrying DSP0277's secured-message
/// version elements: the requester's supported version list and the responder's selection [SP1,SP2,SP4].
/// </summary>
/// <remarks>
/// Layout [SP4]: TotalElements u8, reserved[3]; each element: ID u8 (0 = DMTF), VendorLen u8 (0),
/// OpaqueElementDataLen u16, data, zero padding to 4 bytes. The data: SMDataVersion u8 = 1,
/// SMDataID u8 (0 version selection: SelectedVersion u16; 1 supported versions: VersionCount u8,
/// versions u16[]). Versions are SPDM version numbers (0x1100 = 1.1, 0x1200 = 1.2).
/// </remarks>
public static class SpdmOpaqueData
{
    public const ushort SecuredVersion11 = 0x1100;
    public const ushort SecuredVersion12 = 0x1200;

    /// <summary>Writes the supported-version list element; returns the opaque data length (a multiple of 4).</summary>
    public static int WriteSupportedVersions(Span<byte> destination, ReadOnlySpan<ushort> versions)
    {
        int dataLen = 3 + 2 * versions.Length;
        int total = 4 + 4 + Align4(dataLen);
        destination[..total].Clear();
        destination[0] = 1;
        destination[4] = 0;
        destination[5] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(destination[6..], (ushort)dataLen);
        destination[8] = 1;
        destination[9] = 1;
        destination[10] = (byte)versions.Length;
        for (int i = 0; i < versions.Length; i++)
            BinaryPrimitives.WriteUInt16LittleEndian(destination[(11 + 2 * i)..], versions[i]);
        return total;
    }

    /// <summary>Writes the version-selection element; returns the opaque data length (12).</summary>
    public static int WriteVersionSelection(Span<byte> destination, ushort selected)
    {
        destination[..12].Clear();
        destination[0] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(destination[6..], 4);
        destination[8] = 1;
        destination[9] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(destination[10..], selected);
        return 12;
    }

    /// <summary>Finds the DMTF element with <paramref name="smDataId"/>; false when the table is malformed or lacks it.</summary>
    public static bool TryFindElement(ReadOnlySpan<byte> opaque, byte smDataId, out ReadOnlySpan<byte> element)
    {
        element = default;
        if (opaque.Length < 4) return false;
        int count = opaque[0], at = 4;
        for (int i = 0; i < count; i++)
        {
            if (opaque.Length - at < 2) return false;
            byte id = opaque[at];
            int vendorLen = opaque[at + 1];
            int lenAt = at + 2 + vendorLen;
            if (opaque.Length - lenAt < 2) return false;
            int dataLen = BinaryPrimitives.ReadUInt16LittleEndian(opaque[lenAt..]);
            int dataAt = lenAt + 2;
            if (opaque.Length - dataAt < dataLen) return false;
            var data = opaque.Slice(dataAt, dataLen);
            if (id == 0 && data.Length >= 2 && data[0] == 1 && data[1] == smDataId)
            {
                element = data;
                return true;
            }
            at += Align4(4 + vendorLen + dataLen);
        }
        return false;
    }

    /// <summary>The highest of <paramref name="ours"/> that the requester's supported list names; 0 when none or malformed.</summary>
    public static ushort SelectVersion(ReadOnlySpan<byte> opaque, ReadOnlySpan<ushort> ours)
    {
        if (!TryFindElement(opaque, 1, out var e) || e.Length < 3) return 0;
        int count = e[2];
        if (e.Length < 3 + 2 * count) return 0;
        ushort best = 0;
        for (int i = 0; i < count; i++)
        {
            ushort v = (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(e[(3 + 2 * i)..]) & 0xFF00);
            foreach (var o in ours)
                if (o == v && v > best) best = v;
        }
        return best;
    }

    /// <summary>The selected version of a responder's opaque data, or 0.</summary>
    public static ushort ReadSelection(ReadOnlySpan<byte> opaque) =>
        TryFindElement(opaque, 0, out var e) && e.Length >= 4 ? (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(e[2..]) & 0xFF00) : (ushort)0;

    private static int Align4(int n) => (n + 3) & ~3;
}
