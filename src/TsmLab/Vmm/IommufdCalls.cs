using TsmLab.Abi;
using TsmLab.Kernel;
using System.Buffers.Binary;

namespace TsmLab.Vmm;

/// <summary>
/// What a VMM's iommufd/VFIO/KVM calls look like from user space: each builds its struct in the
/// process's own memory, issues the ioctl on an fd and reads any output back, as QEMU's
/// backends do. Return values are the syscall's (negative errno on failure).
/// </summary>
public sealed class IommufdCalls(Process process, ScratchMemory scratch)
{
    public Process Process => process;
    public ScratchMemory Scratch => scratch;

    public long CreateVm(int kvmFd, ulong type) => process.Ioctl(kvmFd, KvmIoctl.CreateVm, type);

    public long CreateVfioKvmDevice(int vmFd, out int deviceFd)
    {
        Span<byte> s = stackalloc byte[(int)KvmCreateDevice.SizeOf];
        BinaryPrimitives.WriteUInt32LittleEndian(s[KvmCreateDevice.Type..], KvmCreateDevice.TypeVfio);
        ulong a = scratch.Put(s);
        long rc = process.Ioctl(vmFd, KvmIoctl.CreateDevice, a);
        deviceFd = rc == 0 ? (int)BinaryPrimitives.ReadUInt32LittleEndian(scratch.Read(a, 12).AsSpan(KvmCreateDevice.Fd)) : -1;
        return rc;
    }

    public long AddVfioFile(int kvmDeviceFd, int vfioFd)
    {
        Span<byte> fd = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(fd, (uint)vfioFd);
        ulong fdAddr = scratch.Put(fd);
        Span<byte> s = stackalloc byte[(int)KvmDeviceAttr.SizeOf];
        BinaryPrimitives.WriteUInt32LittleEndian(s[KvmDeviceAttr.Group..], KvmDeviceAttr.GroupVfioFile);
        BinaryPrimitives.WriteUInt64LittleEndian(s[KvmDeviceAttr.Attr..], KvmDeviceAttr.VfioFileAdd);
        BinaryPrimitives.WriteUInt64LittleEndian(s[KvmDeviceAttr.Addr..], fdAddr);
        return process.Ioctl(kvmDeviceFd, KvmIoctl.SetDeviceAttr, scratch.Put(s));
    }

    public long BindIommufd(int vfioFd, int iommuFd, out uint devId)
    {
        Span<byte> s = stackalloc byte[VfioDeviceBindIommufd.SizeOf];
        BinaryPrimitives.WriteUInt32LittleEndian(s[VfioDeviceBindIommufd.Argsz..], VfioDeviceBindIommufd.SizeOf);
        BinaryPrimitives.WriteUInt32LittleEndian(s[VfioDeviceBindIommufd.Iommufd..], (uint)iommuFd);
        ulong a = scratch.Put(s);
        long rc = process.Ioctl(vfioFd, VfioIoctl.DeviceBindIommufd, a);
        devId = rc == 0 ? BinaryPrimitives.ReadUInt32LittleEndian(scratch.Read(a, VfioDeviceBindIommufd.SizeOf).AsSpan(VfioDeviceBindIommufd.OutDevid)) : 0;
        return rc;
    }

    public long AttachPt(int vfioFd, uint ptId, out uint hwptId)
    {
        Span<byte> s = stackalloc byte[VfioDeviceAttachIommufdPt.SizeOf];
        BinaryPrimitives.WriteUInt32LittleEndian(s[VfioDeviceAttachIommufdPt.Argsz..], VfioDeviceAttachIommufdPt.SizeOf);
        BinaryPrimitives.WriteUInt32LittleEndian(s[VfioDeviceAttachIommufdPt.PtId..], ptId);
        ulong a = scratch.Put(s);
        long rc = process.Ioctl(vfioFd, VfioIoctl.DeviceAttachIommufdPt, a);
        hwptId = rc == 0 ? BinaryPrimitives.ReadUInt32LittleEndian(scratch.Read(a, VfioDeviceAttachIommufdPt.SizeOf).AsSpan(VfioDeviceAttachIommufdPt.PtId)) : 0;
        return rc;
    }

    public long IoasAlloc(int iommuFd, out uint ioasId) =>
        Iommufd(iommuFd, IommufdIoctl.IoasAlloc, IommuIoasAlloc.SizeOf, _ => { }, IommuIoasAlloc.OutIoasId, out ioasId);

    public long HwptAlloc(int iommuFd, uint devId, uint ptId, uint flags, out uint hwptId) =>
        Iommufd(iommuFd, IommufdIoctl.HwptAlloc, IommuHwptAlloc.SizeOf, s =>
        {
            BinaryPrimitives.WriteUInt32LittleEndian(s[IommuHwptAlloc.Flags..], flags);
            BinaryPrimitives.WriteUInt32LittleEndian(s[IommuHwptAlloc.DevId..], devId);
            BinaryPrimitives.WriteUInt32LittleEndian(s[IommuHwptAlloc.PtId..], ptId);
        }, IommuHwptAlloc.OutHwptId, out hwptId);

    public long ViommuAlloc(int iommuFd, uint type, uint devId, uint hwptId, out uint viommuId) =>
        Iommufd(iommuFd, IommufdIoctl.ViommuAlloc, IommuViommuAlloc.SizeOf, s =>
        {
            BinaryPrimitives.WriteUInt32LittleEndian(s[IommuViommuAlloc.Type..], type);
            BinaryPrimitives.WriteUInt32LittleEndian(s[IommuViommuAlloc.DevId..], devId);
            BinaryPrimitives.WriteUInt32LittleEndian(s[IommuViommuAlloc.HwptId..], hwptId);
        }, IommuViommuAlloc.OutViommuId, out viommuId);

    public long VdeviceAlloc(int iommuFd, uint viommuId, uint devId, ulong virtId, out uint vdeviceId) =>
        Iommufd(iommuFd, IommufdIoctl.VdeviceAlloc, IommuVdeviceAlloc.SizeOf, s =>
        {
            BinaryPrimitives.WriteUInt32LittleEndian(s[IommuVdeviceAlloc.ViommuId..], viommuId);
            BinaryPrimitives.WriteUInt32LittleEndian(s[IommuVdeviceAlloc.DevId..], devId);
            BinaryPrimitives.WriteUInt64LittleEndian(s[IommuVdeviceAlloc.VirtId..], virtId);
        }, IommuVdeviceAlloc.OutVdeviceId, out vdeviceId);

    /// <summary>IOMMU_IOAS_MAP of [userVa, userVa + length): at <paramref name="iova"/> with FIXED_IOVA in <paramref name="flags"/>, else where the kernel chooses (returned).</summary>
    public long IoasMap(int iommuFd, uint ioasId, ulong userVa, ulong length, uint flags, ref ulong iova)
    {
        Span<byte> s = stackalloc byte[IommuIoasMap.SizeOf];
        s.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(s[IommuIoasMap.Size..], IommuIoasMap.SizeOf);
        BinaryPrimitives.WriteUInt32LittleEndian(s[IommuIoasMap.Flags..], flags);
        BinaryPrimitives.WriteUInt32LittleEndian(s[IommuIoasMap.IoasId..], ioasId);
        BinaryPrimitives.WriteUInt64LittleEndian(s[IommuIoasMap.UserVa..], userVa);
        BinaryPrimitives.WriteUInt64LittleEndian(s[IommuIoasMap.Length..], length);
        BinaryPrimitives.WriteUInt64LittleEndian(s[IommuIoasMap.Iova..], iova);
        ulong a = scratch.Put(s);
        long rc = process.Ioctl(iommuFd, IommufdIoctl.IoasMap, a);
        if (rc == 0) iova = BinaryPrimitives.ReadUInt64LittleEndian(scratch.Read(a, IommuIoasMap.SizeOf).AsSpan(IommuIoasMap.Iova));
        return rc;
    }

    /// <summary>IOMMU_IOAS_UNMAP; <paramref name="unmapped"/> gets the bytes the kernel unmapped.</summary>
    public long IoasUnmap(int iommuFd, uint ioasId, ulong iova, ulong length, out ulong unmapped)
    {
        Span<byte> s = stackalloc byte[IommuIoasUnmap.SizeOf];
        s.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(s[IommuIoasUnmap.Size..], IommuIoasUnmap.SizeOf);
        BinaryPrimitives.WriteUInt32LittleEndian(s[IommuIoasUnmap.IoasId..], ioasId);
        BinaryPrimitives.WriteUInt64LittleEndian(s[IommuIoasUnmap.Iova..], iova);
        BinaryPrimitives.WriteUInt64LittleEndian(s[IommuIoasUnmap.Length..], length);
        ulong a = scratch.Put(s);
        long rc = process.Ioctl(iommuFd, IommufdIoctl.IoasUnmap, a);
        unmapped = rc == 0 ? BinaryPrimitives.ReadUInt64LittleEndian(scratch.Read(a, IommuIoasUnmap.SizeOf).AsSpan(IommuIoasUnmap.Length)) : 0;
        return rc;
    }

    public long Destroy(int iommuFd, uint id) =>
        Iommufd(iommuFd, IommufdIoctl.Destroy, IommuDestroy.SizeOf, s => BinaryPrimitives.WriteUInt32LittleEndian(s[IommuDestroy.Id..], id), -1, out _);

    public long TsmOp(int iommuFd, uint vdeviceId, uint type) =>
        Iommufd(iommuFd, IommufdIoctl.VdeviceTsmOp, IommuVdeviceTsmOp.SizeOf, s =>
        {
            BinaryPrimitives.WriteUInt32LittleEndian(s[IommuVdeviceTsmOp.Type..], type);
            BinaryPrimitives.WriteUInt32LittleEndian(s[IommuVdeviceTsmOp.VdeviceId..], vdeviceId);
        }, -1, out _);

    /// <summary>IOMMU_VDEVICE_TSM_INFO; on success <paramref name="info"/> holds the kernel's answer.</summary>
    public long TsmInfo(int iommuFd, uint vdeviceId, out TsmInfo info)
    {
        Span<byte> s = stackalloc byte[IommuVdeviceTsmInfo.SizeOf];
        BinaryPrimitives.WriteUInt32LittleEndian(s[IommuVdeviceTsmInfo.Size..], IommuVdeviceTsmInfo.SizeOf);
        BinaryPrimitives.WriteUInt32LittleEndian(s[IommuVdeviceTsmInfo.VdeviceId..], vdeviceId);
        ulong a = scratch.Put(s);
        long rc = process.Ioctl(iommuFd, IommufdIoctl.VdeviceTsmInfo, a);
        info = rc == 0 ? Vmm.TsmInfo.Parse(scratch.Read(a, IommuVdeviceTsmInfo.SizeOf)) : default;
        return rc;
    }

    /// <summary>
    /// IOMMU_VDEVICE_TSM_REQ in the op-arch profile. <paramref name="response"/> receives the
    /// bytes produced (resp_len minus a non-negative residue) and <paramref name="tsmCode"/> the
    /// copied-back tsm_code.
    /// </summary>
    public long TsmRequest(int iommuFd, uint vdeviceId, TsmReqOp op, TvmArch arch, ReadOnlySpan<byte> request, int responseLength, out byte[] response, out ulong tsmCode)
    {
        ulong req = request.IsEmpty ? 0 : scratch.Put(request);
        ulong resp = responseLength > 0 ? scratch.Alloc(responseLength) : 0;
        Span<byte> s = stackalloc byte[IommuVdeviceTsmReqOpArch.SizeOf];
        IommuVdeviceTsmReqOpArch.Write(s, vdeviceId, op, arch, (uint)request.Length, (uint)responseLength, req, resp);
        ulong a = scratch.Put(s);
        long rc = process.Ioctl(iommuFd, IommufdIoctl.VdeviceTsmReq, a);
        tsmCode = BinaryPrimitives.ReadUInt64LittleEndian(scratch.Read(a, IommuVdeviceTsmReqOpArch.SizeOf).AsSpan(IommuVdeviceTsmReqOpArch.TsmCode));
        int produced = rc >= 0 && rc <= responseLength ? responseLength - (int)rc : 0;
        response = produced > 0 ? scratch.Read(resp, produced) : [];
        return rc;
    }

    /// <summary>IOMMU_VDEVICE_TSM_REQ in the scope profile.</summary>
    public long TsmRequestScoped(int iommuFd, uint vdeviceId, TsmReqScope scope, ReadOnlySpan<byte> request, int responseLength, out byte[] response)
    {
        ulong req = request.IsEmpty ? 0 : scratch.Put(request);
        ulong resp = responseLength > 0 ? scratch.Alloc(responseLength) : 0;
        Span<byte> s = stackalloc byte[IommuVdeviceTsmReqScope.SizeOf];
        IommuVdeviceTsmReqScope.Write(s, vdeviceId, scope, (uint)request.Length, (uint)responseLength, req, resp);
        long rc = process.Ioctl(iommuFd, IommufdIoctl.VdeviceTsmReq, scratch.Put(s));
        int produced = rc >= 0 && rc <= responseLength ? responseLength - (int)rc : 0;
        response = produced > 0 ? scratch.Read(resp, produced) : [];
        return rc;
    }

    private delegate void Fill(Span<byte> s);

    private long Iommufd(int fd, uint cmd, int size, Fill fill, int outOffset, out uint outValue)
    {
        var s = new byte[size];
        BinaryPrimitives.WriteUInt32LittleEndian(s, (uint)size);
        fill(s);
        ulong a = scratch.Put(s);
        long rc = process.Ioctl(fd, cmd, a);
        outValue = rc == 0 && outOffset >= 0 ? BinaryPrimitives.ReadUInt32LittleEndian(scratch.Read(a, size).AsSpan(outOffset)) : 0;
        return rc;
    }
}
