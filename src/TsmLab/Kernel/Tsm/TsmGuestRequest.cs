using TsmLab.Abi;

namespace TsmLab.Kernel.Tsm;

/// <summary>
/// One guest request as the PCI TSM core hands it to a platform's <c>guest_req</c>: the envelope
/// (op and arch, or scope), the request payload already copied into kernel memory once, the
/// user response buffer, and the firmware result code that travels back as <c>tsm_code</c>.
/// A ref struct: nothing about a request is allocated.
/// </summary>
public ref struct TsmGuestRequest
{
    /// <summary>The ABI profile the request arrived in.</summary>
    public TsmAbiProfile Profile;
    /// <summary>op-arch profile: the op.</summary>
    public TsmReqOp Op;
    /// <summary>scope profile: the declared scope.</summary>
    public TsmReqScope Scope;
    /// <summary>The TVM architecture (asserted by the caller in op-arch, the VM's in scope).</summary>
    public TvmArch Arch;
    /// <summary>The request payload (kernel copy).</summary>
    public ReadOnlySpan<byte> Request;
    /// <summary>The caller's address space, for copy-out and for pointers inside payloads.</summary>
    public IUserMemory Memory;
    /// <summary>User address of the response buffer (0: none).</summary>
    public ulong ResponseUptr;
    /// <summary>Size of the response buffer.</summary>
    public uint ResponseLength;
    /// <summary>Firmware result code; zeroed by iommufd, set by the TSM, copied back in op-arch.</summary>
    public ulong TsmCode;
    /// <summary>Set by the TSM when it changed device or firmware state (for uncertain-completion reporting).</summary>
    public bool StateChanged;

    /// <summary>
    /// Writes a response of <paramref name="bytes"/> at the start of the response buffer and
    /// returns the residue (unused bytes), -EINVAL when the buffer is too small, or -EFAULT.
    /// </summary>
    public readonly int Respond(ReadOnlySpan<byte> bytes)
    {
        if ((uint)bytes.Length > ResponseLength) return Errno.EINVAL.Neg();
        if (bytes.Length > 0 && ResponseUptr == 0) return Errno.EFAULT.Neg();
        int rc = Memory.CopyToUser(ResponseUptr, bytes);
        return rc < 0 ? rc : Residue(ResponseLength - (uint)bytes.Length);
    }

    /// <summary>The residue when the request produced no response: unused response bytes if there is a buffer, else 0.</summary>
    public readonly int NoResponse() => ResponseUptr == 0 ? 0 : Residue(ResponseLength);

    /// <summary>
    /// A residue as the int return value. The TSM core refuses resp_len above INT_MAX before the
    /// firmware runs, so this never clamps on that path; a caller building a request by hand gets
    /// INT_MAX rather than a negative number that would read as an errno.
    /// </summary>
    private static int Residue(uint unused) => unused > int.MaxValue ? int.MaxValue : (int)unused;
}
