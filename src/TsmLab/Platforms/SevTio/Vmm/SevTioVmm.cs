using TsmLab.Abi;
using TsmLab.Platforms.SevTio.Firmware;
using TsmLab.Vmm;
using TsmLab.Platforms.SevTio.Abi;
using System.Buffers.Binary;

namespace TsmLab.Platforms.SevTio.Vmm;

/// <summary>One guest BAR as the VMM maps it: guest physical address, host physical address, size.</summary>
/// <remarks>
/// The VMM's SEV-TIO exit handling (QEMU/OpenVMM side of [S1,S2]): it maps guest RIDs to the
/// vDevices it allocated, turns SEV_TIO_OP into IOMMU_VDEVICE_TSM_OP (BIND/UNBIND) or TSM_REQ
/// SET_TDI_STATE (RUN/STOP), and SEV_TIO_GUEST_REQUEST into TSM_REQ with the SEV envelope (TsmLab
/// definition), passing the guest's shared pages by their address in its own process. It reads only
/// the message header's msg_type (authenticated plaintext) to pick the op; the payload is
/// ciphertext it cannot read.
/// </remarks>
public readonly record struct GuestBar(int Index, ulong Gpa, ulong Hpa, ulong Size);

/// <summary>The SEV-TIO exit handler of a VMM process.</summary>
public sealed class SevTioVmm(IommufdCalls calls, int iommuFd, GuestRam ram) : ISevExitHandler
{
    private readonly byte[] ghcbPage = new byte[GhcbPage.Size];

    private readonly Dictionary<uint, (uint Vdevice, GuestBar[] Bars)> devices = [];

    /// <summary>The last TSM ioctl's result (for traces and tests).</summary>
    public long LastIoctl { get; private set; }

    /// <summary>Makes a vDevice visible to the guest at <paramref name="guestRid"/> with its BAR mapping.</summary>
    public void Attach(uint guestRid, uint vdeviceId, params GuestBar[] bars) => devices[guestRid] = (vdeviceId, bars);

    /// <summary>
    /// KVM_RUN returned with a forwarded VMGEXIT: reads <c>kvm_run</c> from the VMM's memory, the
    /// GHCB from guest memory, serves the exit and writes the answer into the GHCB page.
    /// </summary>
    public void HandleExit(ulong kvmRunHva)
    {
        Span<byte> run = stackalloc byte[48];
        if (calls.Process.Memory.CopyFromUser(run, kvmRunHva) < 0 ||
            BinaryPrimitives.ReadUInt32LittleEndian(run[KvmRunSevTio.ExitReason..]) != KvmRunSevTio.ExitSevTio) return;
        ulong gpa = BinaryPrimitives.ReadUInt64LittleEndian(run[KvmRunSevTio.GhcbGpa..]);
        if (!ram.Read(gpa, ghcbPage)) return;
        var g = GhcbFields.Read(ghcbPage);
        Vmgexit(ref g);
        g.WriteTo(ghcbPage);
        ram.Write(gpa, ghcbPage);
    }

    /// <summary>Serves one exit on its decoded GHCB slots (answers written into <paramref name="g"/>).</summary>
    public void Vmgexit(ref GhcbFields g)
    {
        calls.Scratch.Reset();
        var log = calls.Process.Kernel.Trace;
        long seq = log?.Reserve() ?? 0;
        ulong exitCode = g.ExitCode, info1 = g.ExitInfo1;
        switch (g.ExitCode)
        {
            case SevTioExit.TioOp: TioOp(ref g); break;
            case SevTioExit.GuestRequest: GuestRequest(ref g); break;
            default: g.ExitInfo2 = SevTsmCode.Generic; break;
        }
        log?.Record(seq, Tracing.TraceLayer.Guest, Tracing.TraceLayer.Vmm, Tracing.TraceKind.GuestExit,
            exitCode == SevTioExit.TioOp ? "VMGEXIT SEV_TIO_OP" : exitCode == SevTioExit.GuestRequest ? "VMGEXIT SEV_TIO_GUEST_REQUEST" : $"VMGEXIT 0x{exitCode:x}",
            $"exit_info_2=0x{g.ExitInfo2:x}", new("exit_code", $"0x{exitCode:x}"), new("exit_info_1", $"0x{info1:x}"),
            new("rcx", $"0x{g.Rcx:x}"), new("rdx", $"0x{g.Rdx:x}"));
    }

    private void TioOp(ref GhcbFields g)
    {
        uint rid = (uint)g.ExitInfo1;
        var action = (SevTioAction)(g.ExitInfo1 >> 32);
        if (!devices.TryGetValue(rid, out var d)) { g.ExitInfo2 = SevTsmCode.Generic; return; }
        ulong code = 0;
        switch (action)
        {
            case SevTioAction.Bind:
            case SevTioAction.Unbind:
                LastIoctl = calls.TsmOp(iommuFd, d.Vdevice, action == SevTioAction.Bind ? IommuVdeviceTsmOp.TypeBind : IommuVdeviceTsmOp.TypeUnbind);
                break;
            case SevTioAction.Run:
            case SevTioAction.Stop:
                Span<byte> p = stackalloc byte[SevSetTdiStatePayload.Size];
                BinaryPrimitives.WriteUInt32LittleEndian(p, action == SevTioAction.Run ? (uint)Tdisp.Wire.TdiState.Run : (uint)Tdisp.Wire.TdiState.ConfigUnlocked);
                LastIoctl = calls.TsmRequest(iommuFd, d.Vdevice, TsmReqOp.SetTdiState, TvmArch.Sev, p, 0, out _, out code);
                break;
            default:
                g.ExitInfo2 = SevTsmCode.Generic;
                return;
        }
        g.ExitInfo2 = LastIoctl >= 0 ? 0 : code != 0 ? code : SevTsmCode.Generic;
        if (action == SevTioAction.Bind && LastIoctl >= 0) g.Rcx = rid;
    }

    private void GuestRequest(ref GhcbFields g)
    {
        uint rid = (uint)g.Rcx;
        if (!devices.TryGetValue(rid, out var d) ||
            !ram.TryHva(g.ExitInfo1, SnpGuestMessage.PageSize, out ulong req) ||
            !ram.TryHva(g.ExitInfo2, SnpGuestMessage.PageSize, out ulong resp))
        {
            g.ExitInfo2 = SevTsmCode.Generic;
            return;
        }
        ulong data = 0;
        if (g.Rbx != 0 && (g.Rbx > SevGuestRequestPayload.MaxDataPages || !ram.TryHva(g.Rax, g.Rbx * 4096, out data)))
        {
            g.ExitInfo2 = SevTsmCode.Generic;
            return;
        }
        Span<byte> type = stackalloc byte[1];
        ram.Read(g.ExitInfo1 + SnpGuestMessage.TypeOffset, type);
        var msg = (SnpMsgType)type[0];
        var op = msg switch
        {
            SnpMsgType.TdiInfoRequest => TsmReqOp.SevTdiInfo,
            SnpMsgType.MmioValidateRequest or SnpMsgType.MmioConfigRequest => TsmReqOp.ValidateMmio,
            SnpMsgType.SdteWriteRequest => (g.Rdx & 1) != 0 ? TsmReqOp.SevEnableDma : TsmReqOp.SevDisableDma,
            _ => (TsmReqOp)0,
        };
        Span<byte> p = stackalloc byte[SevGuestRequestPayload.Size];
        p.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(p[SevGuestRequestPayload.ReqUptr..], req);
        BinaryPrimitives.WriteUInt64LittleEndian(p[SevGuestRequestPayload.RespUptr..], resp);
        BinaryPrimitives.WriteUInt64LittleEndian(p[SevGuestRequestPayload.DataUptr..], data);
        BinaryPrimitives.WriteUInt32LittleEndian(p[SevGuestRequestPayload.DataNpages..], (uint)g.Rbx);
        BinaryPrimitives.WriteUInt32LittleEndian(p[SevGuestRequestPayload.GuestRid..], rid);
        BinaryPrimitives.WriteUInt64LittleEndian(p[SevGuestRequestPayload.Param..], g.Rdx);
        if (msg == SnpMsgType.MmioValidateRequest)
        {
            ulong gpa = g.Rdx & ~0xFFFul;
            uint pages = (uint)(g.Rcx >> 32);
            BinaryPrimitives.WriteUInt64LittleEndian(p[SevGuestRequestPayload.MmioGpa..], gpa);
            BinaryPrimitives.WriteUInt32LittleEndian(p[SevGuestRequestPayload.MmioNpages..], pages);
            foreach (var bar in d.Bars)
                if (gpa >= bar.Gpa && gpa - bar.Gpa < bar.Size)
                    BinaryPrimitives.WriteUInt64LittleEndian(p[SevGuestRequestPayload.MmioPa..], bar.Hpa + (gpa - bar.Gpa));
        }
        LastIoctl = Request(d.Vdevice, op, p, out var answer, out ulong code);
        if (LastIoctl == Errno.ENOSPC.Neg() && code == SevTsmCode.InvalidLength)
        {
            g.Rbx = BinaryPrimitives.ReadUInt32LittleEndian(answer.AsSpan(SevGuestResponsePayload.NeededNpages));
            g.ExitInfo2 = SevTsmCode.InvalidLength;
            return;
        }
        if (LastIoctl < 0)
        {
            g.ExitInfo2 = code != 0 ? code : SevTsmCode.Generic;
            return;
        }
        g.Rdx = BinaryPrimitives.ReadUInt64LittleEndian(answer.AsSpan(SevGuestResponsePayload.ParamOut));
        g.ExitInfo2 = 0;
    }

    /// <summary>
    /// IOMMU_VDEVICE_TSM_REQ (op-arch) with a 16-byte response buffer, read back whatever the
    /// result: on ENOSPC the kernel has written needed_npages there (IommufdCalls drops it).
    /// </summary>
    private long Request(uint vdevice, TsmReqOp op, ReadOnlySpan<byte> payload, out byte[] answer, out ulong tsmCode)
    {
        var scratch = calls.Scratch;
        scratch.Reset();
        ulong req = scratch.Put(payload);
        ulong resp = scratch.Alloc(SevGuestResponsePayload.Size);
        Span<byte> s = stackalloc byte[IommuVdeviceTsmReqOpArch.SizeOf];
        IommuVdeviceTsmReqOpArch.Write(s, vdevice, op, TvmArch.Sev, (uint)payload.Length, SevGuestResponsePayload.Size, req, resp);
        ulong a = scratch.Put(s);
        long rc = calls.Process.Ioctl(iommuFd, IommufdIoctl.VdeviceTsmReq, a);
        tsmCode = BinaryPrimitives.ReadUInt64LittleEndian(scratch.Read(a, IommuVdeviceTsmReqOpArch.SizeOf).AsSpan(IommuVdeviceTsmReqOpArch.TsmCode));
        answer = scratch.Read(resp, SevGuestResponsePayload.Size);
        return rc;
    }
}
