using System.Buffers.Binary;
using TsmLab.Abi;
using TsmLab.Kernel;
using TsmLab.Kernel.Pci;
using TsmLab.Kernel.Tsm;
using TsmLab.Platforms.Tdx.Abi;
using TsmLab.Platforms.Tdx.Firmware;
using TsmLab.Platforms.Tdx.Kvm;
using TsmLab.Tdisp.Device;
using TsmLab.Tdisp.Wire;

namespace TsmLab.Platforms.Tdx.HostDriver;

/// <summary>
/// The <c>tdx-host</c> link TSM (drivers/virt/coco/tdx-host [TX4,TX9]) over the machine's TDX
/// module. Init: TDH.EXT.MEM.ADD + TDH.EXT.INIT, TDH.IOMMU.SETUP per DRHD (OPERAND_INVALID: that
/// DRHD is skipped). Connect: TDH.SPDM.CREATE, the TDH.SPDM.CONNECT relay loop (dev_info kept),
/// TDH.IDE.STREAM.CREATE, TDH.IDE.STREAM.KM(SETUP). Disconnect in reverse. Bind, unbind and
/// guest_req have no Linux code [TX4]: TsmLab's design (docs/tdx.md) binds with TDH.DEVIF.CREATE +
/// TDH.DMAR.ADD, maps private MMIO with TDH.MMIO.MAP for VALIDATE_MMIO, starts the TDI with
/// TDH.TDI.START for SET_TDI_STATE(RUN), and serves the report and dev_info for op 8.
/// </summary>
/// <remarks>
/// Every extension call runs under <c>extLock</c> (Linux's tdx_ext_lock): the extension takes one
/// caller at a time and answers a second with TDX_OPERAND_BUSY [TX4,TX7]. The event handler of
/// every extension call: SUCCESS done; TDX_SPDM_REQUEST relay over DOE and call again;
/// TDX_SPDM_SESSION_KEY_REQUIRE_REFRESH TDH.SPDM.MNG(KEY_UPDATE) and call again;
/// TDX_INTERRUPTED_RESUMABLE call again; anything else is an error [TX4,TX5].
/// </remarks>
public sealed class TdxLinkTsm : ILinkTsmPlatform
{
    private const int MaxRelayRounds = 4096;
    private readonly HostKernel kernel;
    /// <summary>
    /// Serialises the driver's extension SEAMCALLs (and their relay rounds) on all devices: the TDX
    /// module serves one extension caller at a time and answers TDX_OPERAND_BUSY to a second
    /// [TX4,TX7], so the driver queues them here rather than retrying.
    /// </summary>
    private readonly Lock extLock = new();
    private readonly Dictionary<PciFunction, DsmLink> links = [];
    private byte[] doeResponse = new byte[SpdmRelay.PageSize];

    /// <summary>The driver of a booted TDX host: handed the machine's module, it enables the extension and the IOMMUs.</summary>
    public TdxLinkTsm(HostKernel kernel)
    {
        this.kernel = kernel;
        Module = kernel.Machine.FirmwareAs<TdxModule>();
        InitStatus = Init();
    }

    public string Name => "tdx-host";
    public TvmArch Arch => TvmArch.Tdx;
    public TdxModule Module { get; }
    /// <summary>The status init ended with (TDX_SUCCESS when the extension and at least one IOMMU are ready).</summary>
    public ulong InitStatus { get; }
    /// <summary>iommu_id per DRHD register base, for the DRHDs in TDX mode.</summary>
    public Dictionary<ulong, ulong> IommuIds { get; } = [];
    /// <summary>DRHDs that answered TDX_OPERAND_INVALID and were skipped.</summary>
    public List<ulong> SkippedDrhds { get; } = [];
    /// <summary>Relayed DOE objects (module → device) so far.</summary>
    public int RelayedObjects { get; private set; }

    public IReadOnlyList<TsmOpDescriptor> Ops { get; } =
    [
        new(TsmReqOp.ValidateMmio, TsmReqClass.StateChange, TdxGuestRequestPayload.MmioSize, 0),
        new(TsmReqOp.SetTdiState, TsmReqClass.StateChange, TdxGuestRequestPayload.StateSize, 0),
        new(TsmReqOp.TdxReadEvidence, TsmReqClass.Info, TdxGuestRequestPayload.EvidenceSize, -1),
    ];

    public int MaxRequestLength => TdxGuestRequestPayload.MmioSize;
    public int MaxResponseLength => TdxGuestRequestPayload.MaxEvidence;

    private TdxRegisters Call(ushort leaf, ulong rcx = 0, ulong rdx = 0, ulong r8 = 0, ulong r9 = 0, ulong r10 = 0, ulong r11 = 0, ulong r12 = 0, ulong r13 = 0)
    {
        var r = new TdxRegisters { Rax = TdxRegisters.LeafRax(leaf), Rcx = rcx, Rdx = rdx, R8 = r8, R9 = r9, R10 = r10, R11 = r11, R12 = r12, R13 = r13 };
        Seamcall(ref r);
        return r;
    }

    /// <summary>One SEAMCALL. Fault point FirmwareCall (docs/reliability.md): not made, the module answers TDX_OPERAND_BUSY.</summary>
    private void Seamcall(ref TdxRegisters r)
    {
        if (Faults.FaultPlan.Armed && Faults.FaultPlan.Fail(Faults.FaultPoint.FirmwareCall, $"SEAMCALL 0x{r.Rax:x}")) { r.Rax = TdxStatus.OperandBusy; return; }
        Module.Seamcall(ref r);
    }

    private ulong Init()
    {
        var sys = Module.SysInfo;
        var pool = TdxHostPages.Allocate(kernel.Machine.Memory, sys.MemoryPoolRequiredPages);
        var r = Call(TdxLeaves.ExtMemAdd, pool.Array);
        if (r.Rax != TdxStatus.Success) return r.Rax;
        r = Call(TdxLeaves.ExtInit);
        if (r.Rax != TdxStatus.Success) return r.Rax;
        // The DRHDs come from ACPI DMAR on a real host; the model reads the machine's list the module was built with.
        foreach (var drhd in Module.Drhds)
        {
            var mt = TdxHostPages.Allocate(kernel.Machine.Memory, sys.IommuMtPageCount);
            r = Call(TdxLeaves.IommuSetup, drhd.RegisterBase, mt.Array);
            if (r.Rax == TdxStatus.Success) IommuIds[drhd.RegisterBase] = r.Rcx;
            else
            {
                mt.Free();
                if (TdxStatus.Code(r.Rax) == TdxStatus.OperandInvalid) SkippedDrhds.Add(drhd.RegisterBase);
                else return r.Rax;
            }
        }
        return IommuIds.Count > 0 ? TdxStatus.Success : TdxStatus.IommuInvalidState;
    }

    // ---- the extension-call event handler and the DOE relay ----

    /// <summary>
    /// Runs an extension call to completion for <paramref name="link"/>: relays each
    /// TDX_SPDM_REQUEST over the DSM's DOE mailbox, answers a key-refresh demand with
    /// TDH.SPDM.MNG(KEY_UPDATE), re-issues on TDX_INTERRUPTED_RESUMABLE. Returns the final registers.
    /// </summary>
    private TdxRegisters Extension(DsmLink link, TdxRegisters template, bool mayRefresh = true)
    {
        for (int round = 0; round < MaxRelayRounds; round++)
        {
            var r = template;
            Seamcall(ref r);
            switch (r.Rax)
            {
                case TdxStatus.SpdmRequest:
                    Relay(link, (int)Math.Min(r.Rcx, int.MaxValue));
                    continue;
                case TdxStatus.SpdmSessionKeyRequireRefresh when mayRefresh:
                    var k = Extension(link, Regs(TdxLeaves.SpdmMng, link.SpdmId, (ulong)SpdmMngOp.KeyUpdate, ulong.MaxValue, link.Response, link.Request, ulong.MaxValue), mayRefresh: false);
                    if (k.Rax != TdxStatus.Success) return k;
                    continue;
                case TdxStatus.InterruptedResumable:
                    continue;
                default:
                    return r;
            }
        }
        return new TdxRegisters { Rax = TdxStatus.SwError }; // the module never finished: give up (Linux would too, after its own bound)
    }

    private static TdxRegisters Regs(ushort leaf, ulong rcx = 0, ulong rdx = 0, ulong r8 = 0, ulong r9 = 0, ulong r10 = 0, ulong r11 = 0, ulong r12 = 0, ulong r13 = 0) =>
        new() { Rax = TdxRegisters.LeafRax(leaf), Rcx = rcx, Rdx = rdx, R8 = r8, R9 = r9, R10 = r10, R11 = r11, R12 = r12, R13 = r13 };

    /// <summary>
    /// One relay round [TX4]: the request page holds a DOE object (header included) of
    /// <paramref name="length"/> bytes; the host checks the header, sends the object through the
    /// DSM's mailbox (pci_tsm_doe_transfer) and puts the answer, DOE header rebuilt, into the
    /// response page. A malformed request or a silent device leaves an empty object (header only),
    /// which ends the module's operation with an error.
    /// </summary>
    private void Relay(DsmLink link, int length)
    {
        var memory = kernel.Machine.Memory;
        Span<byte> response = memory.At(link.Response, SpdmRelay.PageSize);
        var request = memory.At(link.Request, SpdmRelay.PageSize);
        int n = 0;
        var type = DoeObjectType.Spdm;
        if (length is >= DoeHeader.Size and <= SpdmRelay.PageSize && DoeHeader.TryRead(request, out var h) && h.VendorId == DoeHeader.VendorPciSig &&
            h.LengthBytes == length && h.Type is DoeObjectType.Spdm or DoeObjectType.SecuredSpdm && link.Dsm.Doe is { } doe)
        {
            type = h.Type;
            if (doeResponse.Length < doe.MaxResponseSize) doeResponse = new byte[doe.MaxResponseSize];
            n = doe.Exchange(request[..length], doeResponse);
            RelayedObjects++;
        }
        response.Clear();
        if (n >= DoeHeader.Size && n <= SpdmRelay.PageSize) doeResponse.AsSpan(0, n).CopyTo(response);
        else DoeHeader.Write(response, type, 0);
    }

    // ---- link ops ----

    /// <summary>Why each DSM's last connect failed (guarded by <c>extLock</c>).</summary>
    private readonly Dictionary<PciFunction, string> connectFailures = [];

    /// <inheritdoc/>
    public string? ConnectFailure(PciFunction dsm)
    {
        lock (extLock) return connectFailures.GetValueOrDefault(dsm);
    }

    /// <summary>
    /// The device's certificate chain in dev_info must verify to the root provisioned for the DSM
    /// (<see cref="PciFunction.SpdmRoot"/>) before any IDE key is programmed (TsmLab definition: Linux's
    /// tdx-host leaves trust to the TD; the model checks on the host too, as the SEV and CCA hosts do).
    /// A chain that does not is traced with the reason.
    /// </summary>
    private bool ChainVerifies(PciFunction dsm, byte[] devInfo, out string failure)
    {
        failure = "";
        string? reason = "no SPDM root is provisioned for the device";
        if (dsm.SpdmRoot is { } root)
        {
            uint length = devInfo.Length >= 4 ? BinaryPrimitives.ReadUInt32LittleEndian(devInfo) : uint.MaxValue;
            reason = "dev_info has no certificate chain";
            if (length <= (uint)devInfo.Length - 4)
            {
                using var key = Spdm.Wire.SpdmCertChainFormat.VerifyToRoot(devInfo.AsSpan(4, (int)length), root, DateTimeOffset.UtcNow, out reason);
                if (key is not null) return true;
            }
        }
        failure = "SPDM authentication: " + (reason ?? "the certificate chain does not verify");
        kernel.Trace?.Record(Tracing.TraceLayer.Kernel, Tracing.TraceLayer.Firmware, Tracing.TraceKind.Decision, "SPDM authentication", "failed",
            new Tracing.TraceField("function", dsm.Address.ToString()), new Tracing.TraceField("reason", reason ?? "the certificate chain does not verify"));
        return false;
    }

    private static uint FuncId(PciFunction f) => TdispFuncId.Of(f.Address);

    public int Connect(PciFunction dsm)
    {
        if (InitStatus != TdxStatus.Success || dsm.Doe is null) return Errno.ENODEV.Neg();
        var memory = kernel.Machine.Memory;
        var sys = Module.SysInfo;
        lock (extLock)
        {
            if (links.ContainsKey(dsm)) return Errno.EBUSY.Neg();
            connectFailures.Remove(dsm);
            var spdmMt = TdxHostPages.Allocate(memory, sys.SpdmMtPageCount);
            var r = Call(TdxLeaves.SpdmCreate, FuncId(dsm), spdmMt.Array);
            if (r.Rax != TdxStatus.Success) { connectFailures[dsm] = $"TDH.SPDM.CREATE: {TdxStatus.NameOf(r.Rax)}"; spdmMt.Free(); return Errno.EIO.Neg(); }
            var link = new DsmLink(dsm, r.Rcx, spdmMt, memory.Allocate(), memory.Allocate(), memory.Allocate(), TdxHostPages.Allocate(memory, sys.SpdmMaxDevInfoPages));
            SpdmConfigInfo.WriteLinuxDefault(memory.At(link.Config, 4096));
            r = Extension(link, Regs(TdxLeaves.SpdmConnect, link.SpdmId, link.Config, link.Response, link.Request, link.DevInfoPages.Array));
            if (r.Rax != TdxStatus.Success)
            {
                connectFailures[dsm] = $"TDH.SPDM.CONNECT: {TdxStatus.NameOf(r.Rax)}";
                if (Call(TdxLeaves.SpdmDelete, link.SpdmId, spdmMt.Array).Rax == TdxStatus.Success) spdmMt.Free(); // else leaked, as Linux does
                link.FreeRelayPages();
                return Errno.EIO.Neg();
            }
            link.DevInfo = link.DevInfoPages.Read((int)r.Rcx);
            if (!ChainVerifies(dsm, link.DevInfo, out string failure))
            {
                connectFailures[dsm] = failure;
                Extension(link, Regs(TdxLeaves.SpdmDisconnect, link.SpdmId, link.Response, link.Request));
                if (Call(TdxLeaves.SpdmDelete, link.SpdmId, spdmMt.Array).Rax == TdxStatus.Success) spdmMt.Free();
                link.FreeRelayPages();
                return Errno.EIO.Neg();
            }
            // Selective IDE stream: root port 00:00.0, RID association covering the device's bus (Linux passes stream_ctrl 0).
            var ideMt = TdxHostPages.Allocate(memory, sys.IdeMtPageCount);
            ulong ridAssoc = ((ulong)dsm.Address.Bus << 8) | ((ulong)dsm.Address.Bus << 24);
            r = Call(TdxLeaves.IdeStreamCreate, IdeStreamInfo.Of(0, selective: true), link.SpdmId, ideMt.Array, 0, ridAssoc);
            if (r.Rax != TdxStatus.Success)
            {
                connectFailures[dsm] = $"TDH.IDE.STREAM.CREATE: {TdxStatus.NameOf(r.Rax)}";
                ideMt.Free();
                Teardown(link);
                return Errno.EIO.Neg();
            }
            link.StreamId = r.Rcx;
            link.StreamMt = ideMt;
            r = Extension(link, Regs(TdxLeaves.IdeStreamKm, link.SpdmId, link.StreamId, (ulong)IdeKmOp.Setup, link.Response, link.Request));
            if (r.Rax != TdxStatus.Success)
            {
                connectFailures[dsm] = $"TDH.IDE.STREAM.KM(SETUP): {TdxStatus.NameOf(r.Rax)}";
                Teardown(link);
                return Errno.EIO.Neg();
            }
            link.KeysActive = true;
            links[dsm] = link;
            return 0;
        }
    }

    public void Disconnect(PciFunction dsm)
    {
        lock (extLock)
        {
            if (!links.Remove(dsm, out var link)) return;
            Teardown(link);
        }
    }

    /// <summary>KM(STOP), IDE.STREAM.BLOCK, IDE.STREAM.DELETE, SPDM.DISCONNECT, SPDM.DELETE [TX4]; pages whose release fails are leaked, as Linux does.</summary>
    private void Teardown(DsmLink link)
    {
        if (link.StreamMt is { } ideMt)
        {
            if (link.KeysActive) Extension(link, Regs(TdxLeaves.IdeStreamKm, link.SpdmId, link.StreamId, (ulong)IdeKmOp.Stop, link.Response, link.Request));
            Call(TdxLeaves.IdeStreamBlock, link.SpdmId, link.StreamId);
            if (Call(TdxLeaves.IdeStreamDelete, link.SpdmId, link.StreamId, ideMt.Array).Rax == TdxStatus.Success) ideMt.Free();
            link.StreamMt = null;
        }
        Extension(link, Regs(TdxLeaves.SpdmDisconnect, link.SpdmId, link.Response, link.Request));
        if (Call(TdxLeaves.SpdmDelete, link.SpdmId, link.SpdmMt.Array).Rax == TdxStatus.Success) link.SpdmMt.Free();
        link.FreeRelayPages();
    }

    /// <summary>
    /// bind (TsmLab design): the TD's TDR from KVM, TDH.DEVIF.CREATE through the relay (LOCK and
    /// report in the module), then TDH.DMAR.ADD on the function's DRHD. The TDI is the host
    /// function and the TD; the vDevice's virt_id is not used [TX16].
    /// </summary>
    public int Bind(TsmTdi tdi)
    {
        lock (extLock)
        {
            if (!links.TryGetValue(tdi.Function.Dsm, out var link)) return Errno.ENXIO.Neg();
            ulong tdr = TdRegistry.Of(kernel).TdrFor(tdi.Vm);
            if (tdr == 0) return Errno.EINVAL.Neg();
            var memory = kernel.Machine.Memory;
            var cs = TdxHostPages.Allocate(memory, 1);
            var report = TdxHostPages.Allocate(memory, 4);
            uint func = FuncId(tdi.Function);
            var r = Extension(link, Regs(TdxLeaves.DevifCreate, link.SpdmId, func, tdr, cs.Array, link.Response, link.Request, link.StreamId, report.Array));
            if (r.Rax != TdxStatus.Success) { cs.Free(); report.Free(); return Errno.EIO.Neg(); }
            var state = new TdxTdiState(link, tdr, func, cs, report.Read((int)r.Rcx));
            report.Free();
            ulong iommu = IommuIds.Values.First();
            r = Call(TdxLeaves.DmarAdd, func, tdr, iommu);
            if (r.Rax != TdxStatus.Success)
            {
                if (Extension(link, Regs(TdxLeaves.DevifRemove, link.SpdmId, func, tdr, link.Response, link.Request)).Rax == TdxStatus.Success) cs.Free();
                return Errno.EIO.Neg();
            }
            tdi.PlatformState = state;
            return 0;
        }
    }

    /// <summary>unbind: TDH.MMIO.BLOCK + UNMAP of every private page, TDH.DMAR.REMOVE, TDH.DEVIF.REMOVE (STOP_INTERFACE).</summary>
    public void Unbind(TsmTdi tdi)
    {
        if (tdi.PlatformState is not TdxTdiState s) return;
        lock (extLock)
        {
            foreach (ulong gpa in s.PrivateMmio)
            {
                Call(TdxLeaves.MmioBlock, gpa, s.Tdr);
                Call(TdxLeaves.MmioUnmap, gpa, s.Tdr);
            }
            s.PrivateMmio.Clear();
            Call(TdxLeaves.DmarRemove, s.FuncId, s.Tdr);
            var r = Extension(s.Link, Regs(TdxLeaves.DevifRemove, s.Link.SpdmId, s.FuncId, s.Tdr, s.Link.Response, s.Link.Request));
            if (r.Rax == TdxStatus.Success) s.Cs.Free();
            tdi.PlatformState = null;
        }
    }

    public TdiState QueryTdiState(TsmTdi tdi)
    {
        if (tdi.PlatformState is not TdxTdiState s) return TdiState.ConfigUnlocked;
        var r = Call(TdxLeaves.DevifMtRead, s.FuncId, s.Tdr);
        return r.Rax == TdxStatus.Success ? (TdiState)r.Rcx : TdiState.Error;
    }

    /// <summary>TDX payloads are not classifiable in the scope profile: TDX is op-arch only (docs/tdx.md).</summary>
    public bool TryClassify(ReadOnlySpan<byte> request, out TsmReqClass requestClass)
    {
        requestClass = TsmReqClass.Info;
        return false;
    }

    public int GuestRequest(TsmTdi tdi, ref TsmGuestRequest request)
    {
        if (request.Arch != TvmArch.Tdx || tdi.PlatformState is not TdxTdiState s) return Errno.EINVAL.Neg();
        return request.Op switch
        {
            TsmReqOp.ValidateMmio => ValidateMmio(s, ref request),
            TsmReqOp.SetTdiState => SetTdiState(s, ref request),
            TsmReqOp.TdxReadEvidence => ReadEvidence(s, ref request),
            _ => Errno.EINVAL.Neg(),
        };
    }

    /// <summary>
    /// VALIDATE_MMIO: TDH.MMIO.MAP for each page of [gpa_base, gpa_top) at pa_base + offset. Pages
    /// the module refuses with OPERAND_INVALID (not in a TEE range of the report) stay shared; when
    /// none was mapped the request is EINVAL with that status in tsm_code; any other refusal is EIO
    /// after the pages this request mapped are unmapped again (BLOCK + UNMAP): all or nothing.
    /// </summary>
    private int ValidateMmio(TdxTdiState s, ref TsmGuestRequest request)
    {
        var p = request.Request;
        if (p.Length != TdxGuestRequestPayload.MmioSize) return Errno.EINVAL.Neg();
        ulong gpa = BinaryPrimitives.ReadUInt64LittleEndian(p[TdxGuestRequestPayload.MmioGpaBase..]);
        ulong top = BinaryPrimitives.ReadUInt64LittleEndian(p[TdxGuestRequestPayload.MmioGpaTop..]);
        ulong pa = BinaryPrimitives.ReadUInt64LittleEndian(p[TdxGuestRequestPayload.MmioPaBase..]);
        if (((gpa | top | pa) & 0xFFF) != 0 || top <= gpa || (top - gpa) / 4096 > 1u << 20 || pa > ulong.MaxValue - (top - gpa)) return Errno.EINVAL.Neg();
        int mapped = 0;
        ulong last = TdxStatus.Success;
        lock (extLock)
        {
            int first = s.PrivateMmio.Count;
            for (ulong off = 0; off < top - gpa; off += 4096)
            {
                var r = Call(TdxLeaves.MmioMap, gpa + off, s.Tdr, pa + off);
                last = r.Rax;
                if (r.Rax == TdxStatus.Success) { s.PrivateMmio.Add(gpa + off); mapped++; continue; }
                if (TdxStatus.Code(r.Rax) == TdxStatus.OperandInvalid) continue;
                request.TsmCode = r.Rax;
                for (int i = s.PrivateMmio.Count - 1; i >= first; i--)
                {
                    Call(TdxLeaves.MmioBlock, s.PrivateMmio[i], s.Tdr);
                    Call(TdxLeaves.MmioUnmap, s.PrivateMmio[i], s.Tdr);
                    s.PrivateMmio.RemoveAt(i);
                }
                return Errno.EIO.Neg();
            }
        }
        request.StateChanged = mapped > 0;
        if (mapped == 0)
        {
            request.TsmCode = last;
            return Errno.EINVAL.Neg();
        }
        return request.NoResponse();
    }

    /// <summary>SET_TDI_STATE(RUN): TDH.TDI.START through the relay (the TD must have asked with TDG.TDI.START). Other states: EINVAL.</summary>
    private int SetTdiState(TdxTdiState s, ref TsmGuestRequest request)
    {
        if (request.Request.Length != TdxGuestRequestPayload.StateSize) return Errno.EINVAL.Neg();
        if ((TdiState)BinaryPrimitives.ReadUInt32LittleEndian(request.Request) != TdiState.Run) return Errno.EINVAL.Neg();
        TdxRegisters r;
        lock (extLock) r = Extension(s.Link, Regs(TdxLeaves.TdiStart, s.Link.SpdmId, s.FuncId, s.Tdr, s.Link.Response, s.Link.Request));
        request.TsmCode = r.Rax;
        if (r.Rax != TdxStatus.Success) return Errno.EIO.Neg();
        request.StateChanged = true;
        return request.NoResponse();
    }

    /// <summary>op 8: the TDI report the bind produced (object 0) or the device's dev_info from CONNECT (object 1).</summary>
    private int ReadEvidence(TdxTdiState s, ref TsmGuestRequest request)
    {
        var p = request.Request;
        if (p.Length != TdxGuestRequestPayload.EvidenceSize || BinaryPrimitives.ReadUInt32LittleEndian(p[TdxGuestRequestPayload.EvidenceReserved..]) != 0)
            return Errno.EINVAL.Neg();
        byte[]? bytes = BinaryPrimitives.ReadUInt32LittleEndian(p) switch
        {
            TdxGuestRequestPayload.ObjectTdiReport => s.Report,
            TdxGuestRequestPayload.ObjectDeviceInfo => s.Link.DevInfo,
            _ => null,
        };
        return bytes is null ? Errno.EINVAL.Neg() : request.Respond(bytes);
    }
}

/// <summary>What the driver keeps per connected DSM (Linux's pci_tsm_pf0 for TDX): the SPDM object, its relay pages, the IDE stream, dev_info.</summary>
internal sealed class DsmLink(PciFunction dsm, ulong spdmId, TdxHostPages spdmMt, ulong config, ulong request, ulong response, TdxHostPages devInfoPages)
{
    public PciFunction Dsm { get; } = dsm;
    public ulong SpdmId { get; } = spdmId;
    public TdxHostPages SpdmMt { get; } = spdmMt;
    public ulong Config { get; } = config;
    public ulong Request { get; } = request;
    public ulong Response { get; } = response;
    public TdxHostPages DevInfoPages { get; } = devInfoPages;
    public byte[] DevInfo { get; set; } = [];
    public ulong StreamId { get; set; }
    public TdxHostPages? StreamMt { get; set; }
    public bool KeysActive { get; set; }

    public void FreeRelayPages()
    {
        var m = SpdmMt.Memory;
        m.Free(Config);
        m.Free(Request);
        m.Free(Response);
        DevInfoPages.Free();
    }

}

/// <summary>What the driver keeps per bound TDI: its link, the TD's TDR, func_id, DEVIFCS pages, the report, the private MMIO it mapped.</summary>
internal sealed class TdxTdiState(DsmLink link, ulong tdr, uint funcId, TdxHostPages cs, byte[] report)
{
    public DsmLink Link { get; } = link;
    public ulong Tdr { get; } = tdr;
    public uint FuncId { get; } = funcId;
    public TdxHostPages Cs { get; } = cs;
    public byte[] Report { get; } = report;
    public List<ulong> PrivateMmio { get; } = [];
}
