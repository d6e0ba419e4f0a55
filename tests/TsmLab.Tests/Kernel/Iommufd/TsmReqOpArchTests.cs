using TsmLab.Abi;
using TsmLab.Tdisp.Wire;
using TsmLab.Kernel;
using TsmLab.Kernel.Iommufd;
using TsmLab.Kernel.Tsm;
using static TsmLab.Tests.Kernel.Raw;
using System.Buffers.Binary;

namespace TsmLab.Tests.Kernel.Iommufd;

/// <summary>IOMMU_VDEVICE_TSM_REQ in the op-arch profile (docs/errno.md "TSM_REQ op-arch").</summary>
public class TsmReqOpArchTests
{
    private static byte[] Req(uint vdev, uint op, uint arch, uint reqLen = 0, uint respLen = 0, ulong req = 0, ulong resp = 0, ulong tsmCode = 0) =>
        Struct(48, U32(4, vdev), U32(8, op), U32(12, arch), U32(16, reqLen), U32(20, respLen), U64(24, req), U64(32, resp), U64(40, tsmCode));

    private static Vdevice Vdev(TestRig r) => r.Kernel.IommufdContexts.Single().Get<Vdevice>(r.Vdev)!;

    [Fact]
    public void SetTdiState_ReachesPlatform_ReturnsZero_AndCopiesTsmCodeBack()
    {
        var r = TestHosts.Assigned(TvmArch.Cca);
        Assert.Equal(0, r.Calls.TsmRequest(r.IommuFd, r.Vdev, TsmReqOp.SetTdiState, TvmArch.Cca, BitConverter.GetBytes(1u), 0, out _, out ulong code));
        Assert.Equal(TestTsmPlatform.SetStateCode, code);
        Assert.Equal(TdiState.ConfigLocked, r.Kernel.Tsm.StateOf(r.Function));
    }

    [Fact]
    public void Response_ReturnsPositiveResidue()
    {
        var r = TestHosts.Assigned(TvmArch.Cca);
        Assert.Equal(60, r.Calls.TsmRequest(r.IommuFd, r.Vdev, TsmReqOp.ObjectInfo, TvmArch.Cca, new byte[4], 64, out var resp, out _));
        Assert.Equal(100u, BinaryPrimitives.ReadUInt32LittleEndian(resp));
    }

    [Fact]
    public void ReadObject_HonoursOffsetAndBufferSize()
    {
        var r = TestHosts.Assigned(TvmArch.Cca);
        var req = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(req.AsSpan(8), 90);
        Assert.Equal(6, r.Calls.TsmRequest(r.IommuFd, r.Vdev, TsmReqOp.ReadObject, TvmArch.Cca, req, 16, out var resp, out _));
        Assert.Equal(TestTsmPlatform.Object[90..], resp);
    }

    [Fact]
    public void TsmCodeFromCaller_IsZeroedBeforeTheTsmRuns()
    {
        var r = TestHosts.Assigned(TvmArch.Cca);
        var s = Req(r.Vdev, (uint)TsmReqOp.ValidateMmio, (uint)TvmArch.Cca, tsmCode: 0xFFFF);
        Assert.Equal(Neg(Errno.EINVAL), Ioctl(r.Vmm, r.IommuFd, IommufdIoctl.VdeviceTsmReq, s)); // 0-byte payload
        Assert.Equal(0ul, BinaryPrimitives.ReadUInt64LittleEndian(Read(r.Vmm, 48).AsSpan(40)));
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(4u)]
    [InlineData(0xFFFF_FFFFu)]
    public void UnknownTvmArch_ReturnsEinval_BeforeLookup(uint arch)
    {
        var r = TestHosts.Assigned(TvmArch.Cca);
        Assert.Equal(Neg(Errno.EINVAL), Ioctl(r.Vmm, r.IommuFd, IommufdIoctl.VdeviceTsmReq, Req(999, 1, arch)));
        Assert.Equal(Neg(Errno.EINVAL), Ioctl(r.Vmm, r.IommuFd, IommufdIoctl.VdeviceTsmReq, Req(r.Vdev, 1, arch)));
        Assert.Equal(1, Vdev(r).Rejections(TsmRejection.UnknownArch));
    }

    [Theory]
    [InlineData(TsmReqOp.SevEnableDma, TvmArch.Cca)]
    [InlineData(TsmReqOp.SevDisableDma, TvmArch.Tdx)]
    [InlineData(TsmReqOp.ReadObject, TvmArch.Sev)]
    [InlineData((TsmReqOp)0, TvmArch.Cca)]
    [InlineData((TsmReqOp)8, TvmArch.Cca)]
    public void OpNotValidForArch_ReturnsEinval_BeforeLookup(TsmReqOp op, TvmArch arch)
    {
        var r = TestHosts.Assigned(TvmArch.Cca);
        Assert.Equal(Neg(Errno.EINVAL), Ioctl(r.Vmm, r.IommuFd, IommufdIoctl.VdeviceTsmReq, Req(12345, (uint)op, (uint)arch)));
        Assert.Equal(0, r.Platform.Requests);
    }

    [Fact]
    public void UnknownVdevice_ReturnsEnoent()
    {
        var r = TestHosts.Assigned(TvmArch.Cca);
        Assert.Equal(Neg(Errno.ENOENT), Ioctl(r.Vmm, r.IommuFd, IommufdIoctl.VdeviceTsmReq, Req(r.Assignment.ViommuId, 2, 1)));
    }

    [Fact]
    public void SevOpOnCcaVm_ReturnsEinval_FirmwareNeverCalled()
    {
        var r = TestHosts.Assigned(TvmArch.Cca);
        Assert.Equal(Neg(Errno.EINVAL), r.Calls.TsmRequest(r.IommuFd, r.Vdev, TsmReqOp.SevEnableDma, TvmArch.Sev, new byte[8], 0, out _, out _));
        Assert.Equal(0, r.Platform.Requests);
        Assert.Equal(1, Vdev(r).Rejections(TsmRejection.ArchNotVm));
    }

    [Fact]
    public void TvmArchNotTheVms_ReturnsEinval()
    {
        var r = TestHosts.Assigned(TvmArch.Cca);
        Assert.Equal(Neg(Errno.EINVAL), r.Calls.TsmRequest(r.IommuFd, r.Vdev, TsmReqOp.SetTdiState, TvmArch.Tdx, new byte[4], 0, out _, out _));
        Assert.Equal(1, Vdev(r).Rejections(TsmRejection.ArchNotVm));
        Assert.Equal(0, r.Platform.Requests);
    }

    [Fact]
    public void NotConnected_ReturnsEnxio()
    {
        var r = TestHosts.Assigned(TvmArch.Cca, connect: false, bind: false);
        Assert.Equal(Neg(Errno.ENXIO), r.Calls.TsmRequest(r.IommuFd, r.Vdev, TsmReqOp.SetTdiState, TvmArch.Cca, new byte[4], 0, out _, out _));
        Assert.Equal(1, Vdev(r).Rejections(TsmRejection.NotConnected));
    }

    [Fact]
    public void BeforeBind_ReturnsEnxio()
    {
        var r = TestHosts.Assigned(TvmArch.Cca, bind: false);
        Assert.Equal(Neg(Errno.ENXIO), r.Calls.TsmRequest(r.IommuFd, r.Vdev, TsmReqOp.SetTdiState, TvmArch.Cca, new byte[4], 0, out _, out _));
        Assert.Equal(1, Vdev(r).Rejections(TsmRejection.NotBound));
    }

    [Fact]
    public void AfterUnbind_ReturnsEnxio()
    {
        var r = TestHosts.Assigned(TvmArch.Cca);
        Assert.True(r.Assignment.Unbind());
        Assert.Equal(Neg(Errno.ENXIO), r.Calls.TsmRequest(r.IommuFd, r.Vdev, TsmReqOp.SetTdiState, TvmArch.Cca, new byte[4], 0, out _, out _));
    }

    [Fact]
    public void TsmOfAnotherArch_ReturnsEinval()
    {
        // A realm VM whose function is connected to a TSM that serves SEV: the backend refuses.
        var platform = new TestTsmPlatform(TvmArch.Sev);
        var cfg = new HostConfiguration
        {
            Name = "mismatch", Arch = HostArch.Arm64, VmTypes = [new ConfidentialVmType(KvmVmType.ArmRealm, TvmArch.Cca)], Iommu = HostIommu.ArmSmmuV3Realm,
            Functions = TsmLab.Hosts.BuiltInHosts.DefaultDeviceFunctions(),
            Tsms = [new TsmSpec("x", (_, _) => platform)],
            Connects = [(new(0, 1, 0, 0), "tsm0")],
        };
        var k = HostKernel.Boot(cfg);
        var p = k.CreateProcess();
        var a = new TsmLab.Vmm.DeviceAssignment(p, new TsmLab.Vmm.AssignmentPlan("/dev/vfio/devices/vfio0", KvmVmType.ArmRealm, 3, TestHosts.GuestAddress));
        Assert.True(a.Prepare());
        Assert.True(a.Bind());
        Assert.Equal(Neg(Errno.EINVAL), a.Calls.TsmRequest(a.IommuFd, a.VdeviceId, TsmReqOp.SetTdiState, TvmArch.Cca, new byte[4], 0, out _, out _));
        Assert.Equal(0, platform.Requests);
        Assert.Equal(1, k.IommufdContexts.Single().Get<Vdevice>(a.VdeviceId)!.Rejections(TsmRejection.ArchNotTsm));
    }

    [Fact]
    public void OpTheTsmDoesNotServe_ReturnsEinval()
    {
        var r = TestHosts.Assigned(TvmArch.Sev);
        // VALIDATE_MMIO and SET_TDI_STATE are served; REGEN_OBJECT is CCA-only, so use a TDX-less check:
        Assert.Equal(Neg(Errno.EINVAL), r.Calls.TsmRequest(r.IommuFd, r.Vdev, TsmReqOp.ReadObject, TvmArch.Sev, new byte[16], 0, out _, out _));
        var cca = TestHosts.Assigned(TvmArch.Cca);
        Assert.Equal(Neg(Errno.EINVAL), cca.Calls.TsmRequest(cca.IommuFd, cca.Vdev, TsmReqOp.RegenObject, TvmArch.Cca, new byte[24], 0, out _, out _));
        Assert.Equal(1, Vdev(cca).Rejections(TsmRejection.NotServed));
        Assert.Equal(0, cca.Platform.Requests);
    }

    [Fact]
    public void RequestLongerThanTsmMaximum_ReturnsEinval()
    {
        var r = TestHosts.Assigned(TvmArch.Cca);
        Assert.Equal(Neg(Errno.EINVAL), r.Calls.TsmRequest(r.IommuFd, r.Vdev, TsmReqOp.SetTdiState, TvmArch.Cca, new byte[65], 0, out _, out _));
        Assert.Equal(0, r.Platform.Requests);
    }

    [Fact]
    public void WrongPayloadLength_PlatformReturnsEinval_Counted()
    {
        var r = TestHosts.Assigned(TvmArch.Cca);
        Assert.Equal(Neg(Errno.EINVAL), r.Calls.TsmRequest(r.IommuFd, r.Vdev, TsmReqOp.SetTdiState, TvmArch.Cca, new byte[8], 0, out _, out _));
        Assert.Equal(1, Vdev(r).Rejections(TsmRejection.PlatformRejected));
    }

    [Fact]
    public void RequestPayloadFault_ReturnsEfault_FirmwareNotCalled()
    {
        var r = TestHosts.Assigned(TvmArch.Cca);
        Assert.Equal(Neg(Errno.EFAULT), Ioctl(r.Vmm, r.IommuFd, IommufdIoctl.VdeviceTsmReq, Req(r.Vdev, 2, 1, reqLen: 4, req: 0x40_0000)));
        Assert.Equal(0, r.Platform.Requests);
    }

    [Fact]
    public void ResponseBufferFault_ReturnsEfault()
    {
        var r = TestHosts.Assigned(TvmArch.Cca);
        MapBuffer(r.Vmm);
        r.Vmm.Memory.CopyToUser(Buf + 1024, new byte[4]);
        Assert.Equal(Neg(Errno.EFAULT), Ioctl(r.Vmm, r.IommuFd, IommufdIoctl.VdeviceTsmReq, Req(r.Vdev, 7, 1, reqLen: 4, respLen: 4, req: Buf + 1024, resp: 0x40_0000)));
    }

    [Fact]
    public void CopyBackFaultAfterStateChange_ReturnsEfault_AndIsRecordedUncertain()
    {
        var r = TestHosts.Assigned(TvmArch.Cca);
        MapBuffer(r.Vmm);
        r.Vmm.Memory.CopyToUser(Buf + 4096, BitConverter.GetBytes(2u));
        r.Vmm.Memory.CopyToUser(Buf, Req(r.Vdev, 2, 1, reqLen: 4, req: Buf + 4096));
        r.Vmm.Memory.Protect(Buf, 4096, Prot.Read);
        Assert.Equal(Neg(Errno.EFAULT), r.Vmm.Ioctl(r.IommuFd, IommufdIoctl.VdeviceTsmReq, Buf));
        Assert.Equal(TdiState.Run, r.Kernel.Tsm.StateOf(r.Function));
        Assert.Equal(1, Vdev(r).UncertainCompletions);
        Assert.Equal(0, r.Calls.TsmInfo(r.IommuFd, r.Vdev, out var info));
        Assert.True(info.UncertainCompletion);
    }

    [Fact]
    public void CopyBackFaultWithoutStateChange_IsNotUncertain()
    {
        var r = TestHosts.Assigned(TvmArch.Cca);
        MapBuffer(r.Vmm);
        r.Vmm.Memory.CopyToUser(Buf + 4096, new byte[4]);
        r.Vmm.Memory.CopyToUser(Buf, Req(r.Vdev, 7, 1, reqLen: 4, respLen: 4, req: Buf + 4096, resp: Buf + 4200));
        r.Vmm.Memory.Protect(Buf, 4096, Prot.Read);
        Assert.Equal(Neg(Errno.EFAULT), r.Vmm.Ioctl(r.IommuFd, IommufdIoctl.VdeviceTsmReq, Buf));
        Assert.Equal(0, Vdev(r).UncertainCompletions);
    }

    [Fact]
    public void TsmCode_IsCopiedBackEvenOnFailure()
    {
        var r = TestHosts.Assigned(TvmArch.Cca);
        // SET_TDI_STATE(9) fails in the platform (EINVAL) after the kernel zeroed tsm_code.
        MapBuffer(r.Vmm);
        r.Vmm.Memory.CopyToUser(Buf + 4096, BitConverter.GetBytes(9u));
        Assert.Equal(Neg(Errno.EINVAL), Ioctl(r.Vmm, r.IommuFd, IommufdIoctl.VdeviceTsmReq, Req(r.Vdev, 2, 1, reqLen: 4, req: Buf + 4096, tsmCode: 0xABCD)));
        Assert.Equal(0ul, BinaryPrimitives.ReadUInt64LittleEndian(Read(r.Vmm, 48).AsSpan(40)));
    }

    [Fact]
    public void NoResponseBuffer_ResidueIsZeroOnExactUse()
    {
        var r = TestHosts.Assigned(TvmArch.Cca);
        Assert.Equal(0, r.Calls.TsmRequest(r.IommuFd, r.Vdev, TsmReqOp.SetTdiState, TvmArch.Cca, BitConverter.GetBytes(1u), 0, out _, out _));
        Assert.Equal(0, r.Calls.TsmRequest(r.IommuFd, r.Vdev, TsmReqOp.ValidateMmio, TvmArch.Cca, new byte[24], 0, out _, out _));
    }
}
