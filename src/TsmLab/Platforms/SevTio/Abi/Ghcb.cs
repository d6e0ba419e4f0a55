using System.Buffers.Binary;

namespace TsmLab.Platforms.SevTio.Abi;

/// <summary>SEV-TIO VMGEXIT codes and their register contract [S1,S2].</summary>
public static class SevTioExit
{
    /// <summary>SVM_VMGEXIT_SEV_TIO_GUEST_REQUEST: exit_info_1 = request page GPA, exit_info_2 = response page GPA, RAX = data pages GPA, RBX = data page count (out: needed count on INVALID_LEN), RCX = guest RID | MMIO page count &lt;&lt; 32, RDX = param (in/out).</summary>
    public const ulong GuestRequest = 0x8000_0020;
    /// <summary>SVM_VMGEXIT_SEV_TIO_OP: exit_info_1 = action &lt;&lt; 32 | guest RID; BIND returns tdi_id in RCX; exit_info_2 = firmware error.</summary>
    public const ulong TioOp = 0x8000_0021;
    /// <summary>GHCB_HV_FT_SNP_SEV_TIO.</summary>
    public const ulong HvFeatureSevTio = 1ul << 7;

    /// <summary>True for the exits KVM hands to the VMM (the two SEV-TIO exits).</summary>
    public static bool IsSevTio(ulong exitCode) => exitCode is GuestRequest or TioOp;
}

/// <summary>SEV_TIO_OP actions [S2].</summary>
public enum SevTioAction : uint
{
    Bind = 0,
    Unbind = 1,
    Run = 2,
    Stop = 3,
}

/// <summary>
/// The GHCB page (Linux <c>struct ghcb</c> / <c>struct ghcb_save_area</c>, arch/x86/include/asm/svm.h
/// [G1]): a 4 KiB page the guest shares with the hypervisor, holding the registers an exit uses at
/// their save-area offsets, a valid bitmap with one bit per 8-byte save-area slot, the shared
/// buffer, the protocol version and the usage. The guest fills it and VMGEXITs; KVM (and the VMM
/// for forwarded exits) reads it and answers in place. Nothing secret may travel here.
/// </summary>
public static class GhcbPage
{
    public const int Size = 4096;
    public const int Rax = 0x1F8, Rcx = 0x308, Rdx = 0x310, Rbx = 0x318;
    public const int SwExitCode = 0x390, SwExitInfo1 = 0x398, SwExitInfo2 = 0x3A0, SwScratch = 0x3A8;
    public const int ValidBitmap = 0x3F0, ValidBitmapSize = 16;
    public const int SharedBuffer = 0x800, SharedBufferSize = 2032;
    public const int ProtocolVersion = 0xFFA, Usage = 0xFFC;
    /// <summary>GHCB protocol version 2 (the SNP version).</summary>
    public const ushort Version2 = 2;

    /// <summary>sw_exit_info_1 low 32 bits = 2: the hypervisor rejected the exit, sw_exit_info_2 says why (sev-common.h).</summary>
    public const ulong ResponseMalformedInput = 2;
    /// <summary>GHCB_ERR_MISSING_INPUT (4) and GHCB_ERR_INVALID_EVENT (6), the reasons in sw_exit_info_2 (sev-common.h).</summary>
    public const ulong ErrMissingInput = 4, ErrInvalidEvent = 6;

    /// <summary>Whether the valid bitmap marks the 8-byte slot at save-area <paramref name="offset"/> (GHCB_BITMAP_IDX).</summary>
    public static bool IsValid(ReadOnlySpan<byte> page, int offset)
    {
        int bit = offset / 8;
        return (page[ValidBitmap + bit / 8] & (1 << (bit % 8))) != 0;
    }

    /// <summary>Marks the slot at <paramref name="offset"/> valid.</summary>
    public static void MarkValid(Span<byte> page, int offset)
    {
        int bit = offset / 8;
        page[ValidBitmap + bit / 8] |= (byte)(1 << (bit % 8));
    }
}

/// <summary>
/// The GHCB slots an SEV-TIO exit uses, decoded from a GHCB page. A value, not the crossing: the
/// guest writes it into its GHCB page (<see cref="WriteTo"/>) and the VMM reads it back from that
/// page in guest memory (<see cref="Read"/>).
/// </summary>
public struct GhcbFields
{
    public ulong ExitCode;
    public ulong ExitInfo1;
    public ulong ExitInfo2;
    public ulong Rax;
    public ulong Rbx;
    public ulong Rcx;
    public ulong Rdx;

    /// <summary>Reads the slots from a GHCB page (slots the valid bitmap does not mark read as 0).</summary>
    public static GhcbFields Read(ReadOnlySpan<byte> page) => new()
    {
        ExitCode = Slot(page, GhcbPage.SwExitCode),
        ExitInfo1 = Slot(page, GhcbPage.SwExitInfo1),
        ExitInfo2 = Slot(page, GhcbPage.SwExitInfo2),
        Rax = Slot(page, GhcbPage.Rax),
        Rbx = Slot(page, GhcbPage.Rbx),
        Rcx = Slot(page, GhcbPage.Rcx),
        Rdx = Slot(page, GhcbPage.Rdx),
    };

    /// <summary>Writes every slot and marks it valid; sets the protocol version and usage 0 (the standard GHCB).</summary>
    public readonly void WriteTo(Span<byte> page)
    {
        Put(page, GhcbPage.SwExitCode, ExitCode);
        Put(page, GhcbPage.SwExitInfo1, ExitInfo1);
        Put(page, GhcbPage.SwExitInfo2, ExitInfo2);
        Put(page, GhcbPage.Rax, Rax);
        Put(page, GhcbPage.Rbx, Rbx);
        Put(page, GhcbPage.Rcx, Rcx);
        Put(page, GhcbPage.Rdx, Rdx);
        BinaryPrimitives.WriteUInt16LittleEndian(page[GhcbPage.ProtocolVersion..], GhcbPage.Version2);
        BinaryPrimitives.WriteUInt32LittleEndian(page[GhcbPage.Usage..], 0);
    }

    private static ulong Slot(ReadOnlySpan<byte> page, int offset) =>
        GhcbPage.IsValid(page, offset) ? BinaryPrimitives.ReadUInt64LittleEndian(page[offset..]) : 0;

    private static void Put(Span<byte> page, int offset, ulong value)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(page[offset..], value);
        GhcbPage.MarkValid(page, offset);
    }
}
