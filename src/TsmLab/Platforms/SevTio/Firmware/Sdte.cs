using System.Buffers.Binary;

namespace TsmLab.Platforms.SevTio.Firmware;

/// <summary>A 64-byte SDTE image with its fields [S2].</summary>
/// <remarks>
/// The secure device table entry the guest asks the PSP to write with SDTE_WRITE [S2]
/// (platforms-and-tdisp.md §3.3): 64 bytes. Enable = V, IR, IW, vmpl 0, vtom_en; disable = all
/// zero.
/// </remarks>
public static class Sdte
{
    public const int Size = 64;
    public const ulong ValidBit = 1, IrBit = 1ul << 61, IwBit = 1ul << 62;
    public const int Word0 = 0, DomainId = 8, AsidWord = 24, GuestWord = 28, IdeStreamIds = 32, VtomWord = 40, RpId = 44;

    /// <summary>What a guest writes to enable DMA: V, IR, IW, vmpl 0, vTOM (vtom_en with vTOM &gt;&gt; 21).</summary>
    public static void WriteEnable(Span<byte> sdte, ulong vtom)
    {
        sdte[..Size].Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(sdte[Word0..], ValidBit | IrBit | IwBit);
        if (vtom != 0) BinaryPrimitives.WriteUInt32LittleEndian(sdte[VtomWord..], 1u | (uint)((vtom >> 21) << 1));
    }

    public static bool IsValid(ReadOnlySpan<byte> sdte) => (BinaryPrimitives.ReadUInt64LittleEndian(sdte[Word0..]) & ValidBit) != 0;

    public static bool IsZero(ReadOnlySpan<byte> sdte) => !sdte[..Size].ContainsAnyExcept((byte)0);

    /// <summary>
    /// True when only guest-settable fields are used: V/IR/IW in word 0, vmpl (b17-18 of the
    /// guest word) and vtom. domain_id, asid, viommu, guest_device_id, guest_id, attrv, sa, the
    /// IDE stream ids and rp_id are the firmware's to fill (TsmLab reading of [S2]).
    /// </summary>
    public static bool UsesOnlyGuestFields(ReadOnlySpan<byte> sdte)
    {
        if ((BinaryPrimitives.ReadUInt64LittleEndian(sdte[Word0..]) & ~(ValidBit | IrBit | IwBit)) != 0) return false;
        if ((BinaryPrimitives.ReadUInt32LittleEndian(sdte[GuestWord..]) & ~(3u << 17)) != 0) return false;
        for (int i = 8; i < Size; i++)
        {
            if (i >= GuestWord && i < GuestWord + 4) continue;
            if (i >= VtomWord && i < VtomWord + 4) continue;
            if (sdte[i] != 0) return false;
        }
        return true;
    }

    /// <summary>The firmware completes a guest's enable SDTE with the fields it owns: ASID, guest device id, IDE stream.</summary>
    public static void FillFirmwareFields(Span<byte> sdte, uint asid, uint guestDeviceId, byte ideStreamId)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(sdte[AsidWord..], (asid & 0xFFF) | ((guestDeviceId & 0xFFFF) << 16));
        sdte[IdeStreamIds] = ideStreamId;
    }
}
