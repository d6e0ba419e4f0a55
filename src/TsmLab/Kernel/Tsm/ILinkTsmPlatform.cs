using TsmLab.Abi;
using TsmLab.Tdisp.Wire;
using TsmLab.Kernel.Pci;

namespace TsmLab.Kernel.Tsm;

/// <summary>
/// How a platform TSM driver plugs into the host kernel: the link group of
/// <c>struct pci_tsm_ops</c> (connect, disconnect, bind, unbind, guest_req; drivers/pci/tsm.c in
/// the devsec tree) plus what TsmLab asks of it to answer the review questions: its TVM
/// architecture, the ops it serves with their payload sizes and class, and a classifier that
/// says what a scope-profile payload does.
/// </summary>
public interface ILinkTsmPlatform
{
    /// <summary>The driver's name ("test", "cca", "sev-tio").</summary>
    string Name { get; }

    /// <summary>The confidential-VM architecture this TSM serves; requests for another are EINVAL.</summary>
    TvmArch Arch { get; }

    /// <summary>The op-arch ops this TSM serves, with their payload sizes and class.</summary>
    IReadOnlyList<TsmOpDescriptor> Ops { get; }

    /// <summary>The longest request payload the TSM accepts (bounds the kernel's copy).</summary>
    int MaxRequestLength { get; }

    /// <summary>The longest response the TSM produces.</summary>
    int MaxResponseLength { get; }

    /// <summary><c>connect</c>: set up SPDM and IDE with the DSM. 0 or a negative errno.</summary>
    int Connect(PciFunction dsm);

    /// <summary>
    /// Why the last <see cref="Connect"/> of <paramref name="dsm"/> failed, in one line (what the driver
    /// learnt: a firmware status, a certificate chain that did not verify); null when it does not say.
    /// TsmLab: `tsmlab info` and a host's boot error show it.
    /// </summary>
    string? ConnectFailure(PciFunction dsm) => null;

    /// <summary><c>disconnect</c>.</summary>
    void Disconnect(PciFunction dsm);

    /// <summary><c>bind</c>: make the function a TDI of the VM. 0 or a negative errno.</summary>
    int Bind(TsmTdi tdi);

    /// <summary><c>unbind</c>: tear the TDI down (always succeeds).</summary>
    void Unbind(TsmTdi tdi);

    /// <summary>The TDI's TDISP state as the TSM knows it.</summary>
    TdiState QueryTdiState(TsmTdi tdi);

    /// <summary>
    /// Scope profile: what this payload would do, decided from its bytes. False when the payload
    /// is not one the TSM understands (the kernel answers EINVAL).
    /// </summary>
    bool TryClassify(ReadOnlySpan<byte> request, out TsmReqClass requestClass);

    /// <summary>
    /// <c>guest_req</c>: serve one request. Returns a negative errno, 0, or a positive residue
    /// (unused response bytes; with no response buffer, unconsumed request bytes).
    /// </summary>
    int GuestRequest(TsmTdi tdi, ref TsmGuestRequest request);
}
