using System.Buffers.Binary;

namespace TsmLab.Platforms.Tdx.Abi;

/// <summary>
/// <c>spdm_config_info_t</c> [TX4]: packed, 7 bytes at the start of a zeroed 4 KiB page:
/// u32 vmm_spdm_cap (bit 13 HEARTBEAT, bit 14 KEY_UPDATE), u8 spdm_session_policy,
/// u8 certificate_slot_mask, u8 raw_bitstream_requested. Linux's defaults: cap = KEY_UPDATE,
/// slot mask 0xff.
/// </summary>
public static class SpdmConfigInfo
{
    public const int Size = 7;
    public const int VmmSpdmCap = 0, SessionPolicy = 4, CertificateSlotMask = 5, RawBitstreamRequested = 6;
    public const uint CapHeartbeat = 1u << 13, CapKeyUpdate = 1u << 14;

    /// <summary>Writes Linux's default configuration into the start of <paramref name="page"/> (the rest stays zero).</summary>
    public static void WriteLinuxDefault(Span<byte> page)
    {
        page.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(page[VmmSpdmCap..], CapKeyUpdate);
        page[CertificateSlotMask] = 0xFF;
    }
}
