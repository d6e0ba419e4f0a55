using TsmLab.Abi;
using TsmLab.Tdisp.Wire;
using TsmLab.Kernel.Pci;
using TsmLab.Kernel.Tsm;
using System.Buffers.Binary;

namespace TsmLab.Tests.Kernel;

/// <summary>
/// A small platform TSM for driving the kernel path before the real platforms exist. Not a
/// product feature. It keeps a TDI state per TDI, counts calls, and answers:
/// op-arch: VALIDATE_MMIO (24 B, needs LOCKED or RUN), SET_TDI_STATE (4 B, 0..2), and per arch
/// CCA OBJECT_INFO (4 B -> 4 B) / READ_OBJECT (16 B -> object bytes from offset), SEV
/// ENABLE/DISABLE_DMA (8 B); scope: u32 kind 1 READ_STATE (4 B, INFO, -> 4 B state),
/// kind 2 SET_STATE (8 B, STATE_CHANGE).
/// </summary>
internal sealed class TestTsmPlatform(TvmArch arch) : ILinkTsmPlatform
{
    public const ulong SetStateCode = 0x5E7;
    public static readonly byte[] Object = Enumerable.Range(0, 100).Select(i => (byte)(i * 3)).ToArray();

    public string Name => "test";
    public TvmArch Arch => arch;
    public int MaxRequestLength => 64;
    public int MaxResponseLength => 4096;
    public int ConnectResult { get; set; }
    public int BindResult { get; set; }
    public int Connects, Disconnects, Binds, Unbinds, Requests;

    public IReadOnlyList<TsmOpDescriptor> Ops { get; } = arch switch
    {
        TvmArch.Cca =>
        [
            new(TsmReqOp.ValidateMmio, TsmReqClass.StateChange, 24, 0),
            new(TsmReqOp.SetTdiState, TsmReqClass.StateChange, 4, 0),
            new(TsmReqOp.ObjectInfo, TsmReqClass.Info, 4, 4),
            new(TsmReqOp.ReadObject, TsmReqClass.Info, 16, -1),
        ],
        TvmArch.Sev =>
        [
            new(TsmReqOp.ValidateMmio, TsmReqClass.StateChange, 24, 0),
            new(TsmReqOp.SetTdiState, TsmReqClass.StateChange, 4, 0),
            new(TsmReqOp.SevEnableDma, TsmReqClass.StateChange, 8, 0),
            new(TsmReqOp.SevDisableDma, TsmReqClass.StateChange, 8, 0),
        ],
        _ =>
        [
            new(TsmReqOp.ValidateMmio, TsmReqClass.StateChange, 24, 0),
            new(TsmReqOp.SetTdiState, TsmReqClass.StateChange, 4, 0),
        ],
    };

    public int Connect(PciFunction dsm) { Connects++; return ConnectResult; }
    public void Disconnect(PciFunction dsm) => Disconnects++;

    public int Bind(TsmTdi tdi)
    {
        Binds++;
        if (BindResult < 0) return BindResult;
        tdi.PlatformState = TdiState.ConfigUnlocked;
        return 0;
    }

    public void Unbind(TsmTdi tdi) { Unbinds++; tdi.PlatformState = null; }

    public TdiState QueryTdiState(TsmTdi tdi) => (TdiState)tdi.PlatformState!;

    public bool TryClassify(ReadOnlySpan<byte> request, out TsmReqClass requestClass)
    {
        requestClass = default;
        if (request.Length < 4) return false;
        switch (BinaryPrimitives.ReadUInt32LittleEndian(request))
        {
            case 1 when request.Length == 4: requestClass = TsmReqClass.Info; return true;
            case 2 when request.Length == 8: requestClass = TsmReqClass.StateChange; return true;
            default: return false;
        }
    }

    public int GuestRequest(TsmTdi tdi, ref TsmGuestRequest r)
    {
        Requests++;
        var state = (TdiState)tdi.PlatformState!;
        if (r.Profile == TsmAbiProfile.Scope)
        {
            Span<byte> s = stackalloc byte[4];
            if (BinaryPrimitives.ReadUInt32LittleEndian(r.Request) == 1)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(s, (uint)state);
                return r.Respond(s);
            }
            return SetState(tdi, ref r, BinaryPrimitives.ReadUInt32LittleEndian(r.Request[4..]));
        }
        switch (r.Op)
        {
            case TsmReqOp.ValidateMmio:
                if (r.Request.Length != 24) return Errno.EINVAL.Neg();
                if (state is not (TdiState.ConfigLocked or TdiState.Run)) return Errno.EINVAL.Neg();
                return r.NoResponse();
            case TsmReqOp.SetTdiState:
                if (r.Request.Length != 4) return Errno.EINVAL.Neg();
                return SetState(tdi, ref r, BinaryPrimitives.ReadUInt32LittleEndian(r.Request));
            case TsmReqOp.ObjectInfo:
            {
                if (r.Request.Length != 4) return Errno.EINVAL.Neg();
                Span<byte> s = stackalloc byte[4];
                BinaryPrimitives.WriteUInt32LittleEndian(s, (uint)Object.Length);
                return r.Respond(s);
            }
            case TsmReqOp.ReadObject:
            {
                if (r.Request.Length != 16) return Errno.EINVAL.Neg();
                ulong offset = BinaryPrimitives.ReadUInt64LittleEndian(r.Request[8..]);
                if (offset > (ulong)Object.Length) return Errno.EINVAL.Neg();
                var rest = Object.AsSpan((int)offset);
                return r.Respond(rest[..Math.Min(rest.Length, (int)r.ResponseLength)]);
            }
            case TsmReqOp.SevEnableDma:
            case TsmReqOp.SevDisableDma:
                if (r.Request.Length != 8) return Errno.EINVAL.Neg();
                r.StateChanged = true;
                return r.NoResponse();
            default:
                return Errno.EINVAL.Neg();
        }
    }

    private static int SetState(TsmTdi tdi, ref TsmGuestRequest r, uint target)
    {
        if (target > (uint)TdiState.Run) return Errno.EINVAL.Neg();
        tdi.PlatformState = (TdiState)target;
        r.StateChanged = true;
        r.TsmCode = SetStateCode;
        return r.NoResponse();
    }
}
