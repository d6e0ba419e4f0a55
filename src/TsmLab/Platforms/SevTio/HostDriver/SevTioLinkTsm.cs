// The host's SEV-TIO link TSM (drivers/crypto/ccp/sev-dev-tio.c and the PCI TSM glue [S5]):
// connect = DEV_CREATE + DEV_CONNECT, bind = TDI_CREATE + TDI_BIND, unbind = TDI_UNBIND +
// TDI_RECLAIM, and guest_req: the SEV envelope (SevGuestRequestPayload, TsmLab definition) is
// read, the guest's encrypted request page is bounced into a firmware page and handed to
// SEV_CMD_TIO_GUEST_REQUEST, the sealed answer bounced back. The driver reads the message header
// (authenticated plaintext) only to check it fits the op; it never holds the VMPCK.
// VALIDATE_MMIO first RMPUPDATEs the MMIO pages to the guest (as KVM does, [S4]);
// SEV_ENABLE_DMA / SEV_DISABLE_DMA notify the host IOMMU after the PSP wrote the SDTE.
using TsmLab.Abi;
using TsmLab.Hardware;
using TsmLab.Kernel;
using TsmLab.Kernel.Pci;
using TsmLab.Kernel.Tsm;
using TsmLab.Platforms.SevTio.Firmware;
using TsmLab.Tdisp.Device;
using TsmLab.Tdisp.Requester;
using TsmLab.Tdisp.Wire;
using TsmLab.Platforms.SevTio.Abi;
using TsmLab.Platforms.SevTio.Vmm;
using TsmLab.Platforms.SevTio.Kvm;
using TsmLab.Platforms.SevTio.Guest;

namespace TsmLab.Platforms.SevTio.HostDriver;

/// <summary>The SEV-TIO platform TSM driver: <see cref="ILinkTsmPlatform"/> over the PSP.</summary>
public sealed class SevTioLinkTsm : ILinkTsmPlatform, IPspDeviceRoute
{
    private const int PageSize = SnpGuestMessage.PageSize;
    private readonly HostKernel _kernel;
    private readonly Dictionary<PciFunction, ulong> _devCtx = [];
    private readonly ulong _reqPage, _resPage, _outPages;
    private const int OutPagesCount = 16;
    private readonly byte[] _cmd = new byte[128];

    /// <summary>The driver of a booted SEV-TIO host: handed the machine's PSP, it offers the PSP its DOE route and runs TIO_INIT.</summary>
    public SevTioLinkTsm(HostKernel kernel)
    {
        _kernel = kernel;
        Memory = kernel.Machine.Memory;
        Psp = kernel.Machine.FirmwareAs<PspFirmware>();
        Rmp = Psp.Rmp;
        Psp.AttachHostRoute(this);
        Iommu = new AmdIommuModel(Psp);
        _reqPage = Memory.Allocate(1);
        _resPage = Memory.Allocate(1);
        _outPages = Memory.Allocate(OutPagesCount);
        var init = Cmd(PspCommandBuffer.TioInit.Size);
        Psp.Command(PspCommandId.TioInit, init);
    }

    public string Name => "sev-tio";
    public TvmArch Arch => TvmArch.Sev;
    public PspFirmware Psp { get; }
    /// <summary>The machine's physical memory (the driver's command and bounce pages).</summary>
    public PhysicalMemory Memory { get; }
    public Rmp Rmp { get; }
    public AmdIommuModel Iommu { get; }
    /// <summary>Called with every byte buffer the host path handles for a guest request (null: no tracing).</summary>
    public Action<string, byte[]>? Observed { get; set; }

    public IReadOnlyList<TsmOpDescriptor> Ops { get; } =
    [
        new(TsmReqOp.ValidateMmio, TsmReqClass.StateChange, SevGuestRequestPayload.Size, SevGuestResponsePayload.Size),
        new(TsmReqOp.SetTdiState, TsmReqClass.StateChange, -1, SevGuestResponsePayload.Size),
        new(TsmReqOp.SevEnableDma, TsmReqClass.StateChange, SevGuestRequestPayload.Size, SevGuestResponsePayload.Size),
        new(TsmReqOp.SevDisableDma, TsmReqClass.StateChange, SevGuestRequestPayload.Size, SevGuestResponsePayload.Size),
    ];

    public int MaxRequestLength => SevGuestRequestPayload.Size;
    public int MaxResponseLength => SevGuestResponsePayload.Size;

    // ---- IPspDeviceRoute: the host carries the PSP's DOE traffic ----

    ITdispTransport? IPspDeviceRoute.Transport(uint deviceId) =>
        Mailbox(deviceId) is { } doe ? new DoeTransport(doe) : null;

    SpdmCollateral? IPspDeviceRoute.Collateral(uint deviceId)
    {
        // Stand-in for SPDM GET_CERTIFICATE/GET_MEASUREMENTS until the device answers SPDM (DoeMailbox.StandInIdentity).
        if (Mailbox(deviceId) is not DoeMailbox { StandInIdentity: { } identity }) return null;
        var id = identity();
        return new SpdmCollateral(id.SpdmCertificateChain(), [.. id.Measurements.Select(m => m.Encode())]);
    }

    private IDoeMailbox? Mailbox(uint deviceId) =>
        _kernel.Functions.FirstOrDefault(f => f.IsDsm && DeviceId(f) == deviceId)?.Doe;

    private static uint DeviceId(PciFunction f) => f.Address.GuestRid;

    // ---- link ops ----

    public int Connect(PciFunction dsm)
    {
        if (dsm.Doe is null) return Errno.ENODEV.Neg();
        var c = Cmd(PspCommandBuffer.DevCreate.Size);
        Le.Put32(c, PspCommandBuffer.DevCreate.DeviceId, DeviceId(dsm));
        c[PspCommandBuffer.DevCreate.StreamId] = 0;
        if (Psp.Command(PspCommandId.DevCreate, c) != PspStatus.Success) return Errno.EIO.Neg();
        ulong dev = Le.U64(c, PspCommandBuffer.DevCreate.OutDevCtx);
        var k = Cmd(PspCommandBuffer.DevCtxOnly.Size);
        Le.Put64(k, PspCommandBuffer.DevCtxOnly.DevCtx, dev);
        if (Psp.Command(PspCommandId.DevConnect, k) != PspStatus.Success)
        {
            Psp.Command(PspCommandId.DevReclaim, k);
            return Errno.EIO.Neg();
        }
        _devCtx[dsm] = dev;
        return 0;
    }

    public void Disconnect(PciFunction dsm)
    {
        if (!_devCtx.Remove(dsm, out ulong dev)) return;
        var k = Cmd(PspCommandBuffer.DevCtxOnly.Size);
        Le.Put64(k, PspCommandBuffer.DevCtxOnly.DevCtx, dev);
        Psp.Command(PspCommandId.DevDisconnect, k);
        Psp.Command(PspCommandId.DevReclaim, k);
    }

    /// <summary>TDI_CREATE (ASID = the KVM VM's id, tdi_id = guest RID) then TDI_BIND (LOCK with NO_FW_UPDATE). EIO when the PSP refuses.</summary>
    public int Bind(TsmTdi tdi)
    {
        if (!_devCtx.TryGetValue(tdi.Function.Dsm, out ulong dev)) return Errno.ENXIO.Neg();
        var c = Cmd(PspCommandBuffer.TdiCreate.Size);
        Le.Put64(c, PspCommandBuffer.TdiCreate.DevCtx, dev);
        Le.Put32(c, PspCommandBuffer.TdiCreate.FunctionId, tdi.Function.Address.RequesterId);
        Le.Put32(c, PspCommandBuffer.TdiCreate.GuestRid, (uint)tdi.VirtId);
        Le.Put32(c, PspCommandBuffer.TdiCreate.Asid, (uint)tdi.Vm.Id);
        if (Psp.Command(PspCommandId.TdiCreate, c) != PspStatus.Success) return Errno.EIO.Neg();
        ulong ctx = Le.U64(c, PspCommandBuffer.TdiCreate.OutTdiCtx);
        var b = Cmd(PspCommandBuffer.TdiBind.Size);
        Le.Put64(b, PspCommandBuffer.TdiBind.TdiCtx, ctx);
        Le.Put32(b, PspCommandBuffer.TdiBind.Flags, (uint)LockInterfaceFlags.NoFwUpdate);
        if (Psp.Command(PspCommandId.TdiBind, b) != PspStatus.Success)
        {
            TdiCommand(PspCommandId.TdiReclaim, ctx);
            return Errno.EIO.Neg();
        }
        tdi.PlatformState = new SevTdiState(dev, ctx);
        return 0;
    }

    public void Unbind(TsmTdi tdi)
    {
        if (tdi.PlatformState is not SevTdiState s) return;
        bool dma = Iommu.SecureDmaEnabled(tdi.Function.Address.RequesterId);
        TdiCommand(PspCommandId.TdiUnbind, s.TdiCtx);
        TdiCommand(PspCommandId.TdiReclaim, s.TdiCtx);
        if (dma) Iommu.SecureDteChanged(tdi.Function.Address.RequesterId);
        tdi.PlatformState = null;
    }

    public TdiState QueryTdiState(TsmTdi tdi)
    {
        if (tdi.PlatformState is not SevTdiState s) return TdiState.ConfigUnlocked;
        var c = Cmd(PspCommandBuffer.TdiStatus.Size);
        Le.Put64(c, PspCommandBuffer.TdiStatus.TdiCtx, s.TdiCtx);
        return Psp.Command(PspCommandId.TdiStatus, c) == PspStatus.Success
            ? (TdiState)Le.U32(c, PspCommandBuffer.TdiStatus.OutTdispState) : TdiState.Error;
    }

    /// <summary>Scope profile: the 4-byte SET_TDI_STATE payload is a state change; an encrypted envelope cannot be classified by the host.</summary>
    public bool TryClassify(ReadOnlySpan<byte> request, out TsmReqClass requestClass)
    {
        requestClass = TsmReqClass.StateChange;
        return request.Length == SevSetTdiStatePayload.Size;
    }

    public int GuestRequest(TsmTdi tdi, ref TsmGuestRequest request)
    {
        if (request.Arch != TvmArch.Sev || tdi.PlatformState is not SevTdiState s) return Errno.EINVAL.Neg();
        Observe("iommufd payload", request.Request);
        if (request.Op == TsmReqOp.SetTdiState && request.Request.Length == SevSetTdiStatePayload.Size)
            return SetTdiState(s, ref request);
        if (request.Request.Length != SevGuestRequestPayload.Size) return Errno.EINVAL.Neg();
        return SevGuestRequestHandler.Forward(this, tdi, s, ref request);
    }

    private int SetTdiState(SevTdiState s, ref TsmGuestRequest request)
    {
        var state = (TdiState)Le.U32(request.Request, 0);
        PspStatus st;
        if (state == TdiState.Run)
        {
            var b = Cmd(PspCommandBuffer.TdiBind.Size);
            Le.Put64(b, PspCommandBuffer.TdiBind.TdiCtx, s.TdiCtx);
            Le.Put32(b, PspCommandBuffer.TdiBind.Flags, PspCommandBuffer.TdiBind.FlagRun);
            st = Psp.Command(PspCommandId.TdiBind, b);
        }
        else if (state == TdiState.ConfigUnlocked) st = TdiCommand(PspCommandId.TdiUnbind, s.TdiCtx);
        else return Errno.EINVAL.Neg();
        request.TsmCode = (ulong)st;
        if (st != PspStatus.Success) return Errno.EIO.Neg();
        request.StateChanged = true;
        return request.NoResponse();
    }

    internal void Observe(string what, ReadOnlySpan<byte> bytes) => Observed?.Invoke(what, bytes.ToArray());

    internal PspStatus TdiCommand(PspCommandId id, ulong tdiCtx)
    {
        var c = Cmd(PspCommandBuffer.TdiCtxOnly.Size);
        Le.Put64(c, PspCommandBuffer.TdiCtxOnly.TdiCtx, tdiCtx);
        return Psp.Command(id, c);
    }

    /// <summary>A zeroed command buffer of <paramref name="size"/> with its length field set.</summary>
    internal Span<byte> Cmd(int size)
    {
        var c = _cmd.AsSpan(0, size);
        c.Clear();
        Le.Put32(c, PspCommandBuffer.Length, (uint)size);
        return c;
    }

    internal ulong RequestPage => _reqPage;
    internal ulong ResponsePage => _resPage;
    internal ulong OutPages => _outPages;
    internal const int OutCapacity = OutPagesCount * PageSize;

    /// <summary>True when [spa, spa + pages) lies inside a BAR of a function of the device (as enumeration read them from config space).</summary>
    internal bool IsDeviceMmio(PciFunction fn, ulong spa, uint pages)
    {
        if (pages == 0) return false;
        ulong length = (ulong)pages * 4096;
        foreach (var f in _kernel.Functions)
            if (ReferenceEquals(f.Dsm, fn.Dsm) && f.ContainsMmio(spa, length)) return true;
        return false;
    }
}

/// <summary>What the host driver keeps per bound TDI: the PSP's device and TDI context handles.</summary>
internal sealed record SevTdiState(ulong DevCtx, ulong TdiCtx);
