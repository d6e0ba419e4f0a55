// The GHCB fields an SEV-TIO VMGEXIT uses [S1,S2] (platforms-and-tdisp.md §3.1): the exit code,
// exit_info_1/2 and RAX/RBX/RCX/RDX. The GHCB is a shared page: the VMM reads and writes it in
// plaintext, so nothing secret may travel here.
using TsmLab.Platforms.SevTio.Abi;
using TsmLab.Platforms.SevTio.Firmware;
using TsmLab.Platforms.SevTio.HostDriver;
using TsmLab.Platforms.SevTio.Guest;

namespace TsmLab.Platforms.SevTio.Vmm;

/// <summary>SEV-TIO VMGEXIT codes and their register contract.</summary>
public static class SevTioExit
{
    /// <summary>SVM_VMGEXIT_SEV_TIO_GUEST_REQUEST: exit_info_1 = request page GPA, exit_info_2 = response page GPA, RAX = data pages GPA, RBX = data page count (out: needed count on INVALID_LEN), RCX = guest RID | MMIO page count &lt;&lt; 32, RDX = param (in/out).</summary>
    public const ulong GuestRequest = 0x8000_0020;
    /// <summary>SVM_VMGEXIT_SEV_TIO_OP: exit_info_1 = action &lt;&lt; 32 | guest RID; BIND returns tdi_id in RCX; exit_info_2 = firmware error.</summary>
    public const ulong TioOp = 0x8000_0021;
    /// <summary>GHCB_HV_FT_SNP_SEV_TIO.</summary>
    public const ulong HvFeatureSevTio = 1ul << 7;
}

/// <summary>SEV_TIO_OP actions [S2].</summary>
public enum SevTioAction : uint
{
    Bind = 0,
    Unbind = 1,
    Run = 2,
    Stop = 3,
}

/// <summary>The GHCB page's fields an exit uses; the guest fills them, the VMM answers in place.</summary>
public sealed class Ghcb
{
    public ulong ExitCode;
    public ulong ExitInfo1;
    public ulong ExitInfo2;
    public ulong Rax;
    public ulong Rbx;
    public ulong Rcx;
    public ulong Rdx;
}

/// <summary>How the guest reaches the hypervisor: VMGEXIT with the GHCB.</summary>
public interface IGhcbExitHandler
{
    /// <summary>Handles one VMGEXIT; results are written into <paramref name="ghcb"/>.</summary>
    void Vmgexit(Ghcb ghcb);
}
