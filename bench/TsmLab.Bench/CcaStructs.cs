using System.Buffers.Binary;
using TsmLab.Abi;
using TsmLab.Kernel;
using TsmLab.Vmm;

namespace TsmLab.Bench;

/// <summary>
/// Builds the VMM's ioctl structs once, in its scratch memory, so a benchmark issues only the
/// ioctl (the library's <c>CcaTsmRequests</c> builds a new struct per call in a bump allocator).
/// </summary>
internal static class CcaStructs
{
    /// <summary>A 48-byte op-arch IOMMU_VDEVICE_TSM_REQ (tvm_arch CCA unless named) with its payload; returns the struct's address.</summary>
    public static ulong TsmReq(IommufdCalls calls, uint vdev, TsmReqOp op, ReadOnlySpan<byte> payload, ulong respUptr = 0, uint respLen = 0, TvmArch arch = TvmArch.Cca)
    {
        ulong req = calls.Scratch.Put(payload);
        var s = new byte[IommuVdeviceTsmReqOpArch.SizeOf];
        IommuVdeviceTsmReqOpArch.Write(s, vdev, op, arch, (uint)payload.Length, respLen, req, respUptr);
        return calls.Scratch.Put(s);
    }

    /// <summary>A 16-byte IOMMU_VDEVICE_TSM_OP (BIND or UNBIND).</summary>
    public static ulong TsmOp(IommufdCalls calls, uint vdev, uint type)
    {
        var s = new byte[IommuVdeviceTsmOp.SizeOf];
        BinaryPrimitives.WriteUInt32LittleEndian(s.AsSpan(IommuVdeviceTsmOp.Size), IommuVdeviceTsmOp.SizeOf);
        BinaryPrimitives.WriteUInt32LittleEndian(s.AsSpan(IommuVdeviceTsmOp.Type), type);
        BinaryPrimitives.WriteUInt32LittleEndian(s.AsSpan(IommuVdeviceTsmOp.VdeviceId), vdev);
        return calls.Scratch.Put(s);
    }

    public static byte[] U32(ulong v) => BitConverter.GetBytes((uint)v);

    /// <summary>The op-arch VALIDATE_MMIO payload: gpa_base, gpa_top (exclusive), pa_base.</summary>
    public static byte[] Mmio(ulong gpaBase, ulong gpaTop, ulong paBase)
    {
        var p = new byte[24];
        BinaryPrimitives.WriteUInt64LittleEndian(p, gpaBase);
        BinaryPrimitives.WriteUInt64LittleEndian(p.AsSpan(8), gpaTop);
        BinaryPrimitives.WriteUInt64LittleEndian(p.AsSpan(16), paBase);
        return p;
    }

    public static void Check(long rc, string what)
    {
        if (rc < 0) throw new InvalidOperationException($"{what}: {ErrnoNames.NameOf((int)rc)}");
    }
}
