using System.Buffers.Binary;
using TsmLab.Abi;
using TsmLab.Platforms.Tdx.Abi;
using TsmLab.Tdisp.Requester;
using TsmLab.Tdisp.Wire;
using TsmLab.Tracing;
using TsmLab.Vmm;

namespace TsmLab.Platforms.Tdx.Vmm;

/// <summary>One guest BAR as the VMM maps it: index, guest physical address, host physical address, size.</summary>
public readonly record struct TdxGuestBar(int Index, ulong Gpa, ulong Hpa, ulong Size);

/// <summary>
/// The VMM's TDCM handling (no public VMM code exists [TX7]; derived as docs/tdx.md says): reads
/// KVM_EXIT_TDX from <c>kvm_run</c>, the TD's shared buffer from guest memory, and maps each
/// operation to iommufd with <c>tvm_arch = TDX</c>: CHECK_TEEIO_SUPP from TSM_INFO; BIND to
/// IOMMU_VDEVICE_TSM_OP(BIND), then the report (op 8) and VALIDATE_MMIO for each TEE range of it
/// (the private MMIO is mapped before the TD accepts it); UNBIND to TSM_OP(UNBIND);
/// GET_TDI_REPORT and GET_DEVICE_INFO to op 8; START_TDI to SET_TDI_STATE(RUN). The answer goes
/// back in the buffer (status COMPLETED, the errno, data length, tsm_code, data).
/// </summary>
public sealed class TdxVmm(IommufdCalls calls, int iommuFd, GuestRam ram, Func<TsmInfo?> info) : ITdxExitHandler
{
    private readonly byte[] buffer = new byte[Tdcm.MaxBufferSize];
    private readonly Dictionary<ushort, (uint Vdevice, uint HostFuncId, TdxGuestBar[] Bars)> devices = [];

    /// <summary>The last iommufd result (for tests).</summary>
    public long LastIoctl { get; private set; }

    /// <summary>
    /// Makes a vDevice visible to the TD at <paramref name="guestRid"/> with its BAR mapping;
    /// <paramref name="hostFuncId"/> is the TDISP func_id of the host function behind it (the VMM
    /// knows the BDF of the VFIO device it opened), which BIND tells the TD.
    /// </summary>
    public void Attach(ushort guestRid, uint vdeviceId, uint hostFuncId, params TdxGuestBar[] bars) => devices[guestRid] = (vdeviceId, hostFuncId, bars);

    public void HandleExit(ulong kvmRunHva)
    {
        Span<byte> run = stackalloc byte[KvmRunTdx.Size];
        if (calls.Process.Memory.CopyFromUser(run, kvmRunHva) < 0 || BinaryPrimitives.ReadUInt32LittleEndian(run[KvmRunTdx.ExitReason..]) != KvmRunTdx.ExitTdx) return;
        if (BinaryPrimitives.ReadUInt64LittleEndian(run[KvmRunTdx.Nr..]) != Tdcm.SubFunction) return; // ret stays SUBFUNC_UNSUPPORTED
        ulong devid = BinaryPrimitives.ReadUInt64LittleEndian(run[KvmRunTdx.Data..]);
        ulong gpa = BinaryPrimitives.ReadUInt64LittleEndian(run[(KvmRunTdx.Data + 8)..]);
        ulong size = BinaryPrimitives.ReadUInt64LittleEndian(run[(KvmRunTdx.Data + 16)..]);
        calls.Scratch.Reset();
        var log = calls.Process.Kernel.Trace;
        long seq = log?.Reserve() ?? 0;
        byte op = 0;
        uint error = 0;
        ulong ret = Serve(devid, gpa, size, ref op, ref error);
        BinaryPrimitives.WriteUInt64LittleEndian(run[KvmRunTdx.Ret..], ret);
        calls.Process.Memory.CopyToUser(kvmRunHva + KvmRunTdx.Ret, run.Slice(KvmRunTdx.Ret, 8));
        log?.Record(seq, TraceLayer.Guest, TraceLayer.Vmm, TraceKind.GuestExit, $"TDG.VP.VMCALL<TDCM> {Tdcm.OpName(op)}",
            ret == TdvmcallStatus.Success ? (error == 0 ? "COMPLETED" : $"COMPLETED error={ErrnoNames.NameOf(-(int)error)}") : TdvmcallStatus.NameOf(ret),
            new("r11", $"0x{Tdcm.SubFunction:x}"), new("devid", $"0x{devid:x}"), new("gpa", $"0x{gpa:x}"), new("size", size.ToString(System.Globalization.CultureInfo.InvariantCulture)));
    }

    private ulong Serve(ulong devid, ulong gpa, ulong size, ref byte op, ref uint error)
    {
        if ((gpa & 0xFFF) != 0) return TdvmcallStatus.AlignError;
        if (size < Tdcm.HeaderSize || size > Tdcm.MaxBufferSize || devid > ushort.MaxValue || !ram.Contains(gpa, size)) return TdvmcallStatus.InvalidOperand;
        var page = buffer.AsSpan(0, (int)size);
        ram.Read(gpa, page);
        op = page[Tdcm.Operation];
        int capacity = (int)size - Tdcm.HeaderSize;
        page[Tdcm.HeaderSize..].Clear();
        ulong tsmCode = 0;
        int length = 0;
        long rc = !devices.TryGetValue((ushort)devid, out var d) ? Errno.ENODEV.Neg() : op switch
        {
            Tdcm.OpCheckTeeioSupp => CheckTeeio(page, ref length),
            Tdcm.OpBind => Bind(d.Vdevice, d.HostFuncId, d.Bars, page, ref length, out tsmCode),
            Tdcm.OpUnbind => LastIoctl = calls.TsmOp(iommuFd, d.Vdevice, IommuVdeviceTsmOp.TypeUnbind),
            Tdcm.OpGetTdiReport => Evidence(d.Vdevice, TdxGuestRequestPayload.ObjectTdiReport, page, capacity, ref length, out tsmCode),
            Tdcm.OpGetDeviceInfo => Evidence(d.Vdevice, TdxGuestRequestPayload.ObjectDeviceInfo, page, capacity, ref length, out tsmCode),
            Tdcm.OpStartTdi => StartTdi(d.Vdevice, out tsmCode),
            _ => Errno.EOPNOTSUPP.Neg(),
        };
        error = rc < 0 ? (uint)-rc : 0;
        page[Tdcm.Status] = Tdcm.StatusCompleted;
        BinaryPrimitives.WriteUInt32LittleEndian(page[Tdcm.Error..], error);
        BinaryPrimitives.WriteUInt32LittleEndian(page[Tdcm.DataLength..], rc < 0 ? 0u : (uint)length);
        BinaryPrimitives.WriteUInt64LittleEndian(page[Tdcm.TsmCode..], tsmCode);
        ram.Write(gpa, page);
        return TdvmcallStatus.Success;
    }

    private long CheckTeeio(Span<byte> page, ref int length)
    {
        var i = info();
        page[Tdcm.Data] = i is { TvmArch: TvmArch.Tdx } ? (byte)1 : (byte)0;
        length = 1;
        return 0;
    }

    /// <summary>
    /// TSM_OP(BIND); the report (op 8); VALIDATE_MMIO for each TEE range at the guest BAR that
    /// range sits in. The answer's data is the TDI's host func_id (u32). When a step after the
    /// bind fails the VMM unbinds again, so the TD never sees a half-done BIND.
    /// </summary>
    private long Bind(uint vdevice, uint hostFuncId, TdxGuestBar[] bars, Span<byte> page, ref int length, out ulong tsmCode)
    {
        tsmCode = 0;
        LastIoctl = calls.TsmOp(iommuFd, vdevice, IommuVdeviceTsmOp.TypeBind);
        if (LastIoctl < 0) return LastIoctl;
        long rc = MapPrivateMmio(vdevice, bars, out tsmCode);
        if (rc < 0)
        {
            calls.TsmOp(iommuFd, vdevice, IommuVdeviceTsmOp.TypeUnbind);
            return rc;
        }
        BinaryPrimitives.WriteUInt32LittleEndian(page[Tdcm.Data..], hostFuncId);
        length = 4;
        return 0;
    }

    private long MapPrivateMmio(uint vdevice, TdxGuestBar[] bars, out ulong tsmCode)
    {
        long rc = ReadEvidence(vdevice, TdxGuestRequestPayload.ObjectTdiReport, TdxGuestRequestPayload.MaxEvidence, out var report, out tsmCode);
        if (rc < 0) return rc;
        var parsed = DeviceInterfaceReport.Parse(report);
        if (parsed is null) return Errno.EIO.Neg();
        Span<byte> p = stackalloc byte[TdxGuestRequestPayload.MmioSize];
        foreach (var range in parsed.Ranges)
        {
            if ((range.Attributes & MmioRangeAttributes.IsNonTeeMem) != 0) continue;
            var bar = bars.FirstOrDefault(b => range.FirstPage >= b.Hpa && range.FirstPage - b.Hpa < b.Size);
            if (bar.Size == 0) return Errno.EINVAL.Neg();
            ulong gpa = bar.Gpa + (range.FirstPage - bar.Hpa);
            BinaryPrimitives.WriteUInt64LittleEndian(p[TdxGuestRequestPayload.MmioGpaBase..], gpa);
            BinaryPrimitives.WriteUInt64LittleEndian(p[TdxGuestRequestPayload.MmioGpaTop..], gpa + (ulong)range.NumberOfPages * 4096);
            BinaryPrimitives.WriteUInt64LittleEndian(p[TdxGuestRequestPayload.MmioPaBase..], range.FirstPage);
            LastIoctl = calls.TsmRequest(iommuFd, vdevice, TsmReqOp.ValidateMmio, TvmArch.Tdx, p, 0, out _, out tsmCode);
            if (LastIoctl < 0) return LastIoctl;
        }
        return 0;
    }

    private long Evidence(uint vdevice, uint obj, Span<byte> page, int capacity, ref int length, out ulong tsmCode)
    {
        long rc = ReadEvidence(vdevice, obj, capacity, out var bytes, out tsmCode);
        if (rc < 0) return rc;
        bytes.CopyTo(page[Tdcm.Data..]);
        length = bytes.Length;
        return 0;
    }

    /// <summary>IOMMU_VDEVICE_TSM_REQ op 8: the response length is resp_len minus the residue.</summary>
    private long ReadEvidence(uint vdevice, uint obj, int capacity, out byte[] bytes, out ulong tsmCode)
    {
        Span<byte> p = stackalloc byte[TdxGuestRequestPayload.EvidenceSize];
        p.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(p, obj);
        LastIoctl = calls.TsmRequest(iommuFd, vdevice, TsmReqOp.TdxReadEvidence, TvmArch.Tdx, p, capacity, out var resp, out tsmCode);
        bytes = LastIoctl < 0 ? [] : resp;
        return LastIoctl < 0 ? LastIoctl : 0;
    }

    private long StartTdi(uint vdevice, out ulong tsmCode)
    {
        Span<byte> p = stackalloc byte[TdxGuestRequestPayload.StateSize];
        BinaryPrimitives.WriteUInt32LittleEndian(p, (uint)TdiState.Run);
        LastIoctl = calls.TsmRequest(iommuFd, vdevice, TsmReqOp.SetTdiState, TvmArch.Tdx, p, 0, out _, out tsmCode);
        return LastIoctl;
    }
}
