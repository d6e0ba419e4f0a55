using TsmLab.Abi;
using TsmLab.Kernel.Pci;
using TsmLab.Kernel.Tsm;
using TsmLab.Tdisp.Wire;

namespace TsmLab.Bench;

/// <summary>A link TSM that answers every request at once: isolates the kernel's own cost.</summary>
internal sealed class ImmediateTsm(TvmArch arch) : ILinkTsmPlatform
{
    public string Name => "immediate";
    public TvmArch Arch => arch;
    public IReadOnlyList<TsmOpDescriptor> Ops { get; } = [new(TsmReqOp.SetTdiState, TsmReqClass.StateChange, 4, 0)];
    public int MaxRequestLength => 64;
    public int MaxResponseLength => 64;
    public int Connect(PciFunction dsm) => 0;
    public void Disconnect(PciFunction dsm) { }
    public int Bind(TsmTdi tdi) => 0;
    public void Unbind(TsmTdi tdi) { }
    public TdiState QueryTdiState(TsmTdi tdi) => TdiState.ConfigLocked;
    public bool TryClassify(ReadOnlySpan<byte> request, out TsmReqClass requestClass) { requestClass = TsmReqClass.StateChange; return true; }
    public int GuestRequest(TsmTdi tdi, ref TsmGuestRequest request) => request.NoResponse();
}
