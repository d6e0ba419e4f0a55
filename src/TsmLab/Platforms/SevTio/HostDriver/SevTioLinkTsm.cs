using System.Security.Cryptography.X509Certificates;
using TsmLab.Abi;
using TsmLab.Hardware;
using TsmLab.Kernel;
using TsmLab.Kernel.Kvm;
using TsmLab.Kernel.Pci;
using TsmLab.Kernel.Tsm;
using TsmLab.Platforms.SevTio.Firmware;
using TsmLab.Tdisp.Device;
using TsmLab.Tdisp.Requester;
using TsmLab.Tdisp.Wire;
using TsmLab.Platforms.SevTio.Abi;
using System.Buffers.Binary;

namespace TsmLab.Platforms.SevTio.HostDriver;

/// <summary>The SEV-TIO platform TSM driver: <see cref="ILinkTsmPlatform"/> over the PSP.</summary>
/// <remarks>
/// The host's SEV-TIO link TSM (drivers/crypto/ccp/sev-dev-tio.c and the PCI TSM glue [S5]): probe
/// = TIO_STATUS (+ TIO_INIT when not done), connect = DEV_CREATE + DEV_CONNECT, bind = TDI_CREATE +
/// TDI_BIND, unbind = TDI_UNBIND + TDI_RECLAIM, each with the public command buffer, contexts in
/// pages the host allocates and names by SLA (SevDeviceBuffers), output objects read from
/// spdm_ctrl.output. guest_req: the SEV envelope (SevGuestRequestPayload, TsmLab definition) is
/// read, the guest's encrypted request page is bounced into a firmware page and handed to
/// SEV_CMD_TIO_GUEST_REQUEST, the sealed answer bounced back. The driver reads the message header
/// (authenticated plaintext) only to check it fits the op; it never holds the VMPCK. VALIDATE_MMIO
/// first RMPUPDATEs the MMIO pages to the guest (as KVM does, [S4]); SEV_ENABLE_DMA /
/// SEV_DISABLE_DMA notify the host IOMMU after the PSP wrote the SDTE. Thread safety: _gate guards
/// the per-device and per-VM tables and the shared command buffer.
/// </remarks>
public sealed class SevTioLinkTsm : ILinkTsmPlatform, IPspDeviceRoute
{
    private const int PageSize = SnpGuestMessage.PageSize;
    /// <summary>The lock flags TDI_BIND asks for (TDISP LOCK_INTERFACE: NO_FW_UPDATE).</summary>
    internal const ushort BindLockFlags = (ushort)LockInterfaceFlags.NoFwUpdate;
    private readonly HostKernel kernel;
    /// <summary>
    /// The driver's command lock (Linux's <c>sev_cmd_mutex</c>, which serialises every PSP command
    /// of the machine): guards the shared command buffer and request/response/status pages and the
    /// per-device and per-VM tables. Requests that reach the PSP serialise here on every device, as
    /// they do in Linux: the PSP runs one command at a time.
    /// </summary>
    internal readonly Lock Gate = new();
    private readonly Dictionary<PciFunction, SevDeviceBuffers> devices = [];
    private readonly Dictionary<int, ulong> gctx = [];
    private readonly ulong reqPage, resPage, statusPage;
    private readonly byte[] cmd = new byte[128];
    private readonly int devctxSize, tdictxSize, spdmReqSize, spdmScratchSize, spdmOutSize;

    /// <summary>
    /// The driver of a booted SEV-TIO host: handed the machine's PSP, it offers the PSP its DOE
    /// route, reads TIO_STATUS, runs TIO_INIT when the firmware has not been initialised, and sizes
    /// its buffers from the status. <see cref="Available"/> is false when the firmware reports TIO off.
    /// </summary>
    public SevTioLinkTsm(HostKernel kernel)
    {
        this.kernel = kernel;
        Memory = kernel.Machine.Memory;
        Psp = kernel.Machine.FirmwareAs<PspFirmware>();
        Rmp = Psp.Rmp;
        Psp.AttachHostRoute(this);
        Iommu = new AmdIommuModel(Psp);
        reqPage = Memory.Allocate(1);
        resPage = Memory.Allocate(1);
        statusPage = Memory.Allocate(1);
        var status = Memory.At(statusPage, TioStatusData.Size);
        if (TioStatus() && (BinaryPrimitives.ReadUInt32LittleEndian(status[TioStatusData.Flags..]) & TioStatusData.TioInitDone) == 0 &&
            (BinaryPrimitives.ReadUInt32LittleEndian(status[TioStatusData.Flags..]) & TioStatusData.TioEn) != 0)
        {
            Psp.Command(PspCommandId.TioInit, Cmd(PspCommandBuffer.TioInit.Size));
            TioStatus();
        }
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(status[TioStatusData.Flags..]);
        Available = (flags & TioStatusData.TioInitDone) != 0;
        devctxSize = (int)BinaryPrimitives.ReadUInt32LittleEndian(status[TioStatusData.DevctxSize..]);
        tdictxSize = (int)BinaryPrimitives.ReadUInt32LittleEndian(status[TioStatusData.TdictxSize..]);
        spdmReqSize = (int)BinaryPrimitives.ReadUInt32LittleEndian(status[TioStatusData.SpdmReqSizeMax..]);
        spdmScratchSize = (int)BinaryPrimitives.ReadUInt32LittleEndian(status[TioStatusData.SpdmScratchSizeMax..]);
        spdmOutSize = (int)BinaryPrimitives.ReadUInt32LittleEndian(status[TioStatusData.SpdmOutSizeMax..]);
    }

    private bool TioStatus()
    {
        var c = Cmd(PspCommandBuffer.TioStatus.Size);
        BinaryPrimitives.WriteUInt64LittleEndian(c[PspCommandBuffer.TioStatus.StatusPaddr..], statusPage);
        return Psp.Command(PspCommandId.TioStatus, c) == PspStatus.Success;
    }

    /// <summary>True when TIO_STATUS reported TIO initialised (after TIO_INIT if needed).</summary>
    public bool Available { get; }

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
        new(TsmReqOp.SetTdiState, TsmReqClass.StateChange, SevSetTdiStatePayload.Size, 0),
        new(TsmReqOp.SevTdiInfo, TsmReqClass.Info, SevGuestRequestPayload.Size, SevGuestResponsePayload.Size),
        new(TsmReqOp.SevEnableDma, TsmReqClass.StateChange, SevGuestRequestPayload.Size, SevGuestResponsePayload.Size),
        new(TsmReqOp.SevDisableDma, TsmReqClass.StateChange, SevGuestRequestPayload.Size, SevGuestResponsePayload.Size),
    ];

    public int MaxRequestLength => SevGuestRequestPayload.Size;
    public int MaxResponseLength => SevGuestResponsePayload.Size;

    // ---- IPspDeviceRoute: the host carries the PSP's DOE traffic ----

    IDoeMailbox? IPspDeviceRoute.Mailbox(uint deviceId) => Dsm(deviceId)?.Doe;

    X509Certificate2? IPspDeviceRoute.TrustedRoot(uint deviceId) => Dsm(deviceId)?.SpdmRoot;

    /// <summary>The DSM whose device id (segment:RID) is <paramref name="deviceId"/>: one look-up by address, not a walk over every function.</summary>
    private PciFunction? Dsm(uint deviceId) =>
        kernel.FindFunction(new PciAddress((ushort)(deviceId >> 16), (byte)(deviceId >> 8), (byte)((deviceId >> 3) & 0x1F), (byte)(deviceId & 7))) is { IsDsm: true } f && DeviceId(f) == deviceId ? f : null;

    private static uint DeviceId(PciFunction f) => f.Address.GuestRid;

    // ---- link ops ----

    /// <summary>Why each DSM's last connect failed (guarded by <c>Gate</c>).</summary>
    private readonly Dictionary<PciFunction, string> connectFailures = [];

    /// <inheritdoc/>
    public string? ConnectFailure(PciFunction dsm)
    {
        lock (Gate) return connectFailures.GetValueOrDefault(dsm);
    }

    /// <summary>DEV_CREATE (a donated context page; device_id = PF0's RID, root_port_id 0: no root port is modelled) then DEV_CONNECT (TC0 on IDE stream 0, certificate slot 0).</summary>
    public int Connect(PciFunction dsm)
    {
        if (dsm.Doe is null) return Errno.ENODEV.Neg();
        if (!Available) return Errno.ENODEV.Neg();
        lock (Gate)
        {
            var d = SevDeviceBuffers.Create(Memory, devctxSize);
            var c = Cmd(PspCommandBuffer.DevCreate.Size);
            BinaryPrimitives.WriteUInt64LittleEndian(c[PspCommandBuffer.DevCreate.DevCtxSla..], d.DevCtx);
            BinaryPrimitives.WriteUInt16LittleEndian(c[PspCommandBuffer.DevCreate.DeviceId..], dsm.Address.RequesterId);
            c[PspCommandBuffer.DevCreate.SegmentId] = (byte)dsm.Address.Segment;
            connectFailures.Remove(dsm);
            var st = Psp.Command(PspCommandId.DevCreate, c);
            if (st != PspStatus.Success)
            {
                connectFailures[dsm] = $"DEV_CREATE: {st}";
                d.Free();
                return Errno.EIO.Neg();
            }
            d.AllocateSpdm(spdmReqSize, spdmScratchSize, spdmOutSize);
            var k = Cmd(PspCommandBuffer.DevConnect.Size);
            d.FillSpdmCtrl(k[PspCommandBuffer.DevConnect.SpdmCtrl..]);
            BinaryPrimitives.WriteUInt64LittleEndian(k[PspCommandBuffer.DevConnect.DevCtxSla..], d.DevCtx);
            k[PspCommandBuffer.DevConnect.TcMask] = 1;
            k[PspCommandBuffer.DevConnect.IdeStreamId] = 0;
            st = SpdmCommand(d, PspCommandId.DevConnect, k, PspCommandBuffer.DevConnect.SpdmCtrl);
            if (st != PspStatus.Success)
            {
                connectFailures[dsm] = $"DEV_CONNECT: {st}" + (st == PspStatus.SpdmError ? " (SPDM authentication or IDE_KM failed; the PSP's trace says which)" : "");
                Reclaim(d);
                return Errno.EIO.Neg();
            }
            devices[dsm] = d;
            return 0;
        }
    }

    public void Disconnect(PciFunction dsm)
    {
        lock (Gate)
        {
            if (!devices.Remove(dsm, out var d)) return;
            var k = Cmd(PspCommandBuffer.DevDisconnect.Size);
            d.FillSpdmCtrl(k[PspCommandBuffer.DevDisconnect.SpdmCtrl..]);
            BinaryPrimitives.WriteUInt64LittleEndian(k[PspCommandBuffer.DevDisconnect.DevCtxSla..], d.DevCtx);
            SpdmCommand(d, PspCommandId.DevDisconnect, k, PspCommandBuffer.DevDisconnect.SpdmCtrl);
            Reclaim(d);
        }
    }

    private void Reclaim(SevDeviceBuffers d)
    {
        var r = Cmd(PspCommandBuffer.DevReclaim.Size);
        BinaryPrimitives.WriteUInt64LittleEndian(r[PspCommandBuffer.DevReclaim.DevCtxSla..], d.DevCtx);
        Psp.Command(PspCommandId.DevReclaim, r);
        d.Free();
    }

    /// <summary>
    /// The guest context page of a VM: allocated at the VM's first bind and handed to the PSP's
    /// launch stand-in (KVM's SNP_GCTX_CREATE / SNP_LAUNCH_START are not modelled; TsmLab).
    /// </summary>
    private ulong GuestContext(KvmVm vm)
    {
        if (gctx.TryGetValue(vm.Id, out ulong g)) return g;
        g = Memory.Allocate(1);
        if (Psp.SnpLaunchStart(g, (uint)vm.Id) != PspStatus.Success)
        {
            Memory.Free(g);
            return 0;
        }
        return gctx[vm.Id] = g;
    }

    /// <summary>
    /// TDI_CREATE (a donated context page; interface_id = the function's RID) then TDI_BIND
    /// (gctx of the VM, guest_device_id = the vDevice's virt_id, lock flags NO_FW_UPDATE, run 0).
    /// EINVAL when the virt_id does not fit the u16 guest_device_id; EIO when the PSP refuses
    /// (the TDI reclaimed, nothing bound).
    /// </summary>
    public int Bind(TsmTdi tdi)
    {
        if (tdi.VirtId > ushort.MaxValue) return Errno.EINVAL.Neg();
        lock (Gate)
        {
            if (!devices.TryGetValue(tdi.Function.Dsm, out var d)) return Errno.ENXIO.Neg();
            ulong gctx = GuestContext(tdi.Vm);
            if (gctx == 0) return Errno.EIO.Neg();
            ulong ctx = SevDeviceBuffers.Alloc(Memory, tdictxSize);
            var c = Cmd(PspCommandBuffer.TdiCreate.Size);
            BinaryPrimitives.WriteUInt64LittleEndian(c[PspCommandBuffer.TdiCreate.DevCtxSla..], d.DevCtx);
            BinaryPrimitives.WriteUInt64LittleEndian(c[PspCommandBuffer.TdiCreate.TdiCtxSla..], ctx);
            BinaryPrimitives.WriteUInt32LittleEndian(c[(PspCommandBuffer.TdiCreate.InterfaceId + TdispInterfaceId.FunctionId)..], TdispInterfaceId.Encode(tdi.Function.Address.RequesterId, 0, false));
            if (Psp.Command(PspCommandId.TdiCreate, c) != PspStatus.Success)
            {
                SevDeviceBuffers.Free(Memory, ctx);
                return Errno.EIO.Neg();
            }
            var s = new SevTdiState(d, ctx, gctx, (ushort)tdi.VirtId);
            if (TdiBind(s, run: false) != PspStatus.Success)
            {
                TdiReclaim(s);
                return Errno.EIO.Neg();
            }
            tdi.PlatformState = s;
            return 0;
        }
    }

    /// <summary>TDI_BIND with the TDI's guest, guest_device_id and lock flags; <paramref name="run"/> sets the run bit.</summary>
    internal PspStatus TdiBind(SevTdiState s, bool run)
    {
        var b = Cmd(PspCommandBuffer.TdiBind.Size);
        s.Device.FillSpdmCtrl(b[PspCommandBuffer.TdiBind.SpdmCtrl..]);
        BinaryPrimitives.WriteUInt64LittleEndian(b[PspCommandBuffer.TdiBind.DevCtxSla..], s.Device.DevCtx);
        BinaryPrimitives.WriteUInt64LittleEndian(b[PspCommandBuffer.TdiBind.TdiCtxSla..], s.TdiCtx);
        BinaryPrimitives.WriteUInt64LittleEndian(b[PspCommandBuffer.TdiBind.Gctx..], s.Gctx);
        BinaryPrimitives.WriteUInt16LittleEndian(b[PspCommandBuffer.TdiBind.GuestDeviceId..], s.GuestDeviceId);
        BinaryPrimitives.WriteUInt16LittleEndian(b[PspCommandBuffer.TdiBind.LockFlags..], BindLockFlags);
        BinaryPrimitives.WriteUInt16LittleEndian(b[PspCommandBuffer.TdiBind.RunWord..], run ? PspCommandBuffer.TdiBind.Run : (ushort)0);
        return SpdmCommand(s.Device, PspCommandId.TdiBind, b, PspCommandBuffer.TdiBind.SpdmCtrl);
    }

    internal PspStatus TdiUnbind(SevTdiState s)
    {
        var u = Cmd(PspCommandBuffer.TdiUnbind.Size);
        s.Device.FillSpdmCtrl(u[PspCommandBuffer.TdiUnbind.SpdmCtrl..]);
        BinaryPrimitives.WriteUInt64LittleEndian(u[PspCommandBuffer.TdiUnbind.DevCtxSla..], s.Device.DevCtx);
        BinaryPrimitives.WriteUInt64LittleEndian(u[PspCommandBuffer.TdiUnbind.TdiCtxSla..], s.TdiCtx);
        BinaryPrimitives.WriteUInt64LittleEndian(u[PspCommandBuffer.TdiUnbind.Gctx..], s.Gctx);
        return SpdmCommand(s.Device, PspCommandId.TdiUnbind, u, PspCommandBuffer.TdiUnbind.SpdmCtrl);
    }

    private void TdiReclaim(SevTdiState s)
    {
        var r = Cmd(PspCommandBuffer.TdiReclaim.Size);
        BinaryPrimitives.WriteUInt64LittleEndian(r[PspCommandBuffer.TdiReclaim.DevCtxSla..], s.Device.DevCtx);
        BinaryPrimitives.WriteUInt64LittleEndian(r[PspCommandBuffer.TdiReclaim.TdiCtxSla..], s.TdiCtx);
        Psp.Command(PspCommandId.TdiReclaim, r);
        SevDeviceBuffers.Free(Memory, s.TdiCtx);
    }

    public void Unbind(TsmTdi tdi)
    {
        if (tdi.PlatformState is not SevTdiState s) return;
        lock (Gate)
        {
            bool dma = Iommu.SecureDmaEnabled(tdi.Function.Address.RequesterId);
            TdiUnbind(s);
            TdiReclaim(s);
            if (dma) Iommu.SecureDteChanged(tdi.Function.Address.RequesterId);
            tdi.PlatformState = null;
        }
    }

    public TdiState QueryTdiState(TsmTdi tdi)
    {
        if (tdi.PlatformState is not SevTdiState s) return TdiState.ConfigUnlocked;
        lock (Gate) return TdispState(s) ?? TdiState.Error;
    }

    /// <summary>TDI_STATUS: the TDISP state the firmware read from the device, or null when the PSP refused.</summary>
    internal TdiState? TdispState(SevTdiState s)
    {
        var c = Cmd(PspCommandBuffer.TdiStatus.Size);
        s.Device.FillSpdmCtrl(c[PspCommandBuffer.TdiStatus.SpdmCtrl..]);
        BinaryPrimitives.WriteUInt64LittleEndian(c[PspCommandBuffer.TdiStatus.DevCtxSla..], s.Device.DevCtx);
        BinaryPrimitives.WriteUInt64LittleEndian(c[PspCommandBuffer.TdiStatus.TdiCtxSla..], s.TdiCtx);
        BinaryPrimitives.WriteUInt64LittleEndian(c[PspCommandBuffer.TdiStatus.StatusPaddr..], s.Device.DataPage);
        if (SpdmCommand(s.Device, PspCommandId.TdiStatus, c, PspCommandBuffer.TdiStatus.SpdmCtrl) != PspStatus.Success) return null;
        return (TdiState)Memory.At(s.Device.DataPage, TdiStatusData.Size)[TdiStatusData.TdispState];
    }

    /// <summary>
    /// Runs an SPDM-aware command as the driver's sev_tio_do_cmd does: on
    /// EXPAND_BUFFER_LENGTH_REQUEST the output buffer is replaced by one of the size the firmware
    /// wrote into its capacity_sz, spdm_ctrl.output updated and the command issued once more.
    /// SEV_RET_SPDM_REQUEST is not produced by this firmware (it reaches the device over the DOE
    /// route); its relay belongs to the SPDM issue and lands here.
    /// </summary>
    internal PspStatus SpdmCommand(SevDeviceBuffers d, PspCommandId id, Span<byte> buffer, int spdmCtrl)
    {
        var st = Psp.Command(id, buffer);
        if (st == PspStatus.ExpandBufferLengthRequest && d.ExpandOutput())
        {
            BinaryPrimitives.WriteUInt64LittleEndian(buffer[(spdmCtrl + PspCommandBuffer.SpdmCtrl.Output)..], d.Output);
            st = Psp.Command(id, buffer);
        }
        return st;
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
        if (request.Op == TsmReqOp.SetTdiState)
            return request.Request.Length == SevSetTdiStatePayload.Size ? SetTdiState(s, ref request) : Errno.EINVAL.Neg();
        if (request.Request.Length != SevGuestRequestPayload.Size) return Errno.EINVAL.Neg();
        lock (Gate) return SevGuestRequestHandler.Forward(this, tdi, s, ref request);
    }

    private int SetTdiState(SevTdiState s, ref TsmGuestRequest request)
    {
        var state = (TdiState)BinaryPrimitives.ReadUInt32LittleEndian(request.Request);
        PspStatus st;
        lock (Gate)
        {
            if (state == TdiState.Run) st = TdiBind(s, run: true);
            else if (state == TdiState.ConfigUnlocked) st = TdiUnbind(s);
            else return Errno.EINVAL.Neg();
        }
        request.TsmCode = (ulong)st;
        if (st != PspStatus.Success) return Errno.EIO.Neg();
        request.StateChanged = true;
        return request.NoResponse();
    }

    internal void Observe(string what, ReadOnlySpan<byte> bytes) => Observed?.Invoke(what, bytes.ToArray());

    /// <summary>A zeroed command buffer of <paramref name="size"/> with its length field set.</summary>
    internal Span<byte> Cmd(int size)
    {
        var c = cmd.AsSpan(0, size);
        c.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(c[PspCommandBuffer.Length..], (uint)size);
        return c;
    }

    /// <summary>The buffers of a connected device (tests and PSP-level callers), or null.</summary>
    internal SevDeviceBuffers? BuffersOf(PciFunction dsm)
    {
        lock (Gate) return devices.GetValueOrDefault(dsm);
    }

    internal ulong RequestPage => reqPage;
    internal ulong ResponsePage => resPage;

    /// <summary>True when [spa, spa + pages) lies inside a BAR of a function of the device (as enumeration read them from config space).</summary>
    internal bool IsDeviceMmio(PciFunction fn, ulong spa, uint pages)
    {
        if (pages == 0) return false;
        ulong length = (ulong)pages * 4096;
        if (fn.ContainsMmio(spa, length)) return true; // the usual case: the TDI's own BAR, without walking the device's functions
        foreach (var f in FunctionsOf(fn.Dsm))
            if (f.ContainsMmio(spa, length)) return true;
        return false;
    }

    /// <summary>The functions of a device (its DSM first), gathered once: the host's functions are fixed at boot.</summary>
    private PciFunction[] FunctionsOf(PciFunction dsm)
    {
        lock (deviceFunctions)
        {
            if (!deviceFunctions.TryGetValue(dsm, out var list))
                deviceFunctions[dsm] = list = [.. kernel.Functions.Where(f => ReferenceEquals(f.Dsm, dsm))];
            return list;
        }
    }

    /// <summary>Each device's functions by its DSM (the lock is the dictionary itself: it guards only this cache).</summary>
    private readonly Dictionary<PciFunction, PciFunction[]> deviceFunctions = [];
}

/// <summary>What the host driver keeps per bound TDI (the driver's tsm_tdi_tio): its device's buffers, the TDI context page's SLA, the guest context page and the guest_device_id.</summary>
internal sealed record SevTdiState(SevDeviceBuffers Device, ulong TdiCtx, ulong Gctx, ushort GuestDeviceId);
