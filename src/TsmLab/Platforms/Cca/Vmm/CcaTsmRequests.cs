using TsmLab.Abi;
using TsmLab.Platforms.Cca.Abi;
using TsmLab.Vmm;
using System.Buffers.Binary;

namespace TsmLab.Platforms.Cca.Vmm;

/// <summary>
/// The VMM's CCA guest requests through its iommufd fd, in the host's profile: op-arch (48-byte
/// struct, tvm_arch CCA, payloads without a sub-command) or scope (40-byte struct, RFC v4
/// payloads with req_type). The response pointer may be any address of the VMM, in particular a
/// guest shared buffer in its guest-RAM mapping, so objects land where the guest reads them.
/// Structs and payloads are built in the VMM's scratch memory.
/// </summary>
public sealed class CcaTsmRequests(IommufdCalls calls, int iommuFd, TsmAbiProfile profile)
{
    public TsmAbiProfile Profile => profile;

    /// <summary>The last tsm_code the kernel copied back (op-arch), 0 in the scope profile.</summary>
    public ulong LastTsmCode { get; private set; }

    /// <summary>OBJECT_INFO / OBJECT_SIZE; <paramref name="size"/> is the 4-byte answer.</summary>
    public long ObjectSize(uint vdev, CacheObject obj, ulong rhiType, out uint size)
    {
        Span<byte> p = stackalloc byte[8];
        ulong resp = calls.Scratch.Alloc(4);
        long rc = profile == TsmAbiProfile.OpArch
            ? Send(vdev, TsmReqOp.ObjectInfo, TsmReqScope.PciInfo, Payload(p, 4, (uint)obj), resp, 4)
            : Send(vdev, 0, TsmReqScope.PciInfo, Payload(p, 8, 1, (uint)rhiType), resp, 4);
        size = rc >= 0 ? BitConverter.ToUInt32(calls.Scratch.Read(resp, 4)) : 0;
        return rc;
    }

    /// <summary>READ_OBJECT / OBJECT_READ into <paramref name="respUptr"/> (up to <paramref name="maxLen"/> bytes from <paramref name="offset"/>).</summary>
    public long ReadObject(uint vdev, CacheObject obj, ulong rhiType, ulong offset, ulong respUptr, uint maxLen)
    {
        Span<byte> p = stackalloc byte[16];
        p.Clear();
        if (profile == TsmAbiProfile.OpArch)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(p, (uint)obj);
            BinaryPrimitives.WriteUInt64LittleEndian(p[8..], offset);
            return Send(vdev, TsmReqOp.ReadObject, TsmReqScope.PciInfo, p, respUptr, maxLen);
        }
        BinaryPrimitives.WriteUInt32LittleEndian(p, 2);
        BinaryPrimitives.WriteUInt32LittleEndian(p[4..], (uint)rhiType);
        BinaryPrimitives.WriteUInt64LittleEndian(p[8..], offset);
        return Send(vdev, 0, TsmReqScope.PciInfo, p, respUptr, maxLen);
    }

    /// <summary>REGEN_OBJECT / UPDATE_INTERFACE_REPORT / UPDATE_MEASUREMENTS (<paramref name="noncePtr"/>: the VMM's address of 32 nonce bytes).</summary>
    public long Regenerate(uint vdev, CacheObject obj, ulong flags, ulong noncePtr)
    {
        Span<byte> p = stackalloc byte[24];
        p.Clear();
        if (profile == TsmAbiProfile.OpArch)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(p, (uint)obj);
            BinaryPrimitives.WriteUInt64LittleEndian(p[8..], flags);
            BinaryPrimitives.WriteUInt64LittleEndian(p[16..], noncePtr);
            return Send(vdev, TsmReqOp.RegenObject, TsmReqScope.PciInfo, p, 0, 0);
        }
        if (obj == CacheObject.InterfaceReport) return Send(vdev, 0, TsmReqScope.PciInfo, Payload(p, 4, 3), 0, 0);
        BinaryPrimitives.WriteUInt32LittleEndian(p, 4);
        BinaryPrimitives.WriteUInt64LittleEndian(p[8..], flags);
        BinaryPrimitives.WriteUInt64LittleEndian(p[16..], noncePtr);
        return Send(vdev, 0, TsmReqScope.PciInfo, p, 0, 0);
    }

    /// <summary>VALIDATE_MMIO / REC_DA_VDEV_MAP.</summary>
    public long ValidateMmio(uint vdev, ulong gpaBase, ulong gpaTop, ulong paBase)
    {
        Span<byte> p = stackalloc byte[32];
        p.Clear();
        if (profile == TsmAbiProfile.OpArch)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(p, gpaBase);
            BinaryPrimitives.WriteUInt64LittleEndian(p[8..], gpaTop);
            BinaryPrimitives.WriteUInt64LittleEndian(p[16..], paBase);
            return Send(vdev, TsmReqOp.ValidateMmio, 0, p[..24], 0, 0);
        }
        BinaryPrimitives.WriteUInt32LittleEndian(p, 5);
        BinaryPrimitives.WriteUInt64LittleEndian(p[8..], gpaBase);
        BinaryPrimitives.WriteUInt64LittleEndian(p[16..], gpaTop);
        BinaryPrimitives.WriteUInt64LittleEndian(p[24..], paBase);
        return Send(vdev, 0, TsmReqScope.PciStateChange, p, 0, 0);
    }

    /// <summary>SET_TDI_STATE (RHI numbering: 2 RUN).</summary>
    public long SetTdiState(uint vdev, uint state)
    {
        Span<byte> p = stackalloc byte[8];
        return profile == TsmAbiProfile.OpArch
            ? Send(vdev, TsmReqOp.SetTdiState, 0, Payload(p, 4, state), 0, 0)
            : Send(vdev, 0, TsmReqScope.PciStateChange, Payload(p, 8, 6, state), 0, 0);
    }

    private static Span<byte> Payload(Span<byte> p, int length, uint w0, uint w1 = 0)
    {
        p = p[..length];
        p.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(p, w0);
        if (length >= 8) BinaryPrimitives.WriteUInt32LittleEndian(p[4..], w1);
        return p;
    }

    private long Send(uint vdev, TsmReqOp op, TsmReqScope scope, ReadOnlySpan<byte> payload, ulong respUptr, uint respLen)
    {
        ulong req = calls.Scratch.Put(payload);
        LastTsmCode = 0;
        if (profile == TsmAbiProfile.OpArch)
        {
            Span<byte> s = stackalloc byte[IommuVdeviceTsmReqOpArch.SizeOf];
            IommuVdeviceTsmReqOpArch.Write(s, vdev, op, TvmArch.Cca, (uint)payload.Length, respLen, req, respUptr);
            ulong a = calls.Scratch.Put(s);
            long rc = calls.Process.Ioctl(iommuFd, IommufdIoctl.VdeviceTsmReq, a);
            LastTsmCode = BinaryPrimitives.ReadUInt64LittleEndian(calls.Scratch.Read(a, IommuVdeviceTsmReqOpArch.SizeOf).AsSpan(IommuVdeviceTsmReqOpArch.TsmCode));
            return rc;
        }
        Span<byte> t = stackalloc byte[IommuVdeviceTsmReqScope.SizeOf];
        IommuVdeviceTsmReqScope.Write(t, vdev, scope, (uint)payload.Length, respLen, req, respUptr);
        return calls.Process.Ioctl(iommuFd, IommufdIoctl.VdeviceTsmReq, calls.Scratch.Put(t));
    }
}
