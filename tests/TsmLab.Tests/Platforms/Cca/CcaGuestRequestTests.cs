using TsmLab.Abi;
using TsmLab.Kernel;
using TsmLab.Kernel.Tsm;
using TsmLab.Platforms.Cca;
using TsmLab.Platforms.Cca.Abi;
using TsmLab.Tdisp.Wire;
using TsmLab.Vmm;
using System.Buffers.Binary;

namespace TsmLab.Tests.Platforms.Cca;

/// <summary>The CCA host driver's guest-request handler through IOMMU_VDEVICE_TSM_REQ: every errno it answers, in both profiles.</summary>
public sealed class CcaGuestRequestTests
{
    private sealed record Rig(HostKernel Kernel, DeviceAssignment A)
    {
        public IommufdCalls Calls => A.Calls;
        public int Fd => A.IommuFd;
        public uint Vdev => A.VdeviceId;
        public long RmiCalls => CcaHost.LinkTsmOf(Kernel)!.Rmm.RmiLog.Count;
        public TsmLab.Platforms.Cca.Firmware.CcaRmm Rmm => CcaHost.LinkTsmOf(Kernel)!.Rmm;
        public TdiState DeviceState => CcaHost.DeviceOf(Kernel)!.Dsm.Interfaces[0].State;

        public long Op(TsmReqOp op, byte[] payload, int resp, out byte[] response, out ulong tsmCode) =>
            Calls.TsmRequest(Fd, Vdev, op, TvmArch.Cca, payload, resp, out response, out tsmCode);

        public long Op(TsmReqOp op, byte[] payload, int resp = 0) => Op(op, payload, resp, out _, out _);

        public long Scoped(TsmReqScope scope, byte[] payload, int resp = 0) => Calls.TsmRequestScoped(Fd, Vdev, scope, payload, resp, out _);
    }

    private static Rig Make(TsmAbiProfile profile = TsmAbiProfile.OpArch, bool bind = true, HostConfiguration? config = null)
    {
        var (k, a, _) = CcaHostDriverTests.Assigned(profile, bind, config);
        return new Rig(k, a);
    }

    private static byte[] U32s(params uint[] v) => v.SelectMany(BitConverter.GetBytes).ToArray();
    private static byte[] U64s(params ulong[] v) => v.SelectMany(BitConverter.GetBytes).ToArray();
    private static byte[] Cat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    private const long EINVAL = -(long)Errno.EINVAL;

    // ---- op-arch ----

    [Fact]
    public void ObjectInfo_AnswersTheSizeInFourBytes_ForEveryCachedObject()
    {
        var r = Make();
        foreach (uint obj in new uint[] { 0, 1, 3 })
        {
            Assert.Equal(0, r.Op(TsmReqOp.ObjectInfo, U32s(obj), 4, out var resp, out ulong code));
            Assert.True(BitConverter.ToUInt32(resp) > 0);
            Assert.Equal(0ul, code);
        }
    }

    [Fact]
    public void ObjectInfo_WithAResponseBufferShorterThanFour_ReturnsEinval()
    {
        Assert.Equal(EINVAL, Make().Op(TsmReqOp.ObjectInfo, U32s(3), 2));
    }

    [Fact]
    public void ReadObject_IsBoundedAndHonoursTheOffset_ResidueIsTheUnusedBuffer()
    {
        var r = Make();
        r.Op(TsmReqOp.ObjectInfo, U32s(3), 4, out var sz, out _);
        int size = (int)BitConverter.ToUInt32(sz);
        Assert.Equal(0, r.Op(TsmReqOp.ReadObject, Cat(U32s(3, 0), U64s(0)), size, out var whole, out _));
        Assert.Equal(size, whole.Length);
        Assert.Equal(0, r.Op(TsmReqOp.ReadObject, Cat(U32s(3, 0), U64s(16)), 16, out var middle, out _));
        Assert.Equal(whole.AsSpan(16, 16).ToArray(), middle);
        Assert.Equal(100 - (size - 20), r.Op(TsmReqOp.ReadObject, Cat(U32s(3, 0), U64s(20)), 100, out var tail, out _));
        Assert.Equal(whole.AsSpan(20).ToArray(), tail);
        Assert.Equal(8, r.Op(TsmReqOp.ReadObject, Cat(U32s(3, 0), U64s((ulong)size)), 8));
    }

    [Fact]
    public void ReadObject_OffsetBeyondTheObject_ReturnsErange()
    {
        var r = Make();
        Assert.Equal(-(long)Errno.ERANGE, r.Op(TsmReqOp.ReadObject, Cat(U32s(3, 0), U64s(0x10000)), 16));
    }

    [Fact]
    public void ReadObject_IntoAnUnmappedBuffer_ReturnsEfault()
    {
        var r = Make();
        var payload = r.Calls.Scratch.Put(Cat(U32s(3, 0), U64s(0)));
        var s = new byte[IommuVdeviceTsmReqOpArch.SizeOf];
        BinaryPrimitives.WriteUInt32LittleEndian(s, (uint)s.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(s.AsSpan(4), r.Vdev);
        BinaryPrimitives.WriteUInt32LittleEndian(s.AsSpan(8), (uint)TsmReqOp.ReadObject);
        BinaryPrimitives.WriteUInt32LittleEndian(s.AsSpan(12), (uint)TvmArch.Cca);
        BinaryPrimitives.WriteUInt32LittleEndian(s.AsSpan(16), 16);
        BinaryPrimitives.WriteUInt32LittleEndian(s.AsSpan(20), 64);
        BinaryPrimitives.WriteUInt64LittleEndian(s.AsSpan(24), payload);
        BinaryPrimitives.WriteUInt64LittleEndian(s.AsSpan(32), 0x6000_0000_0000);
        Assert.Equal(-(long)Errno.EFAULT, r.Calls.Process.Ioctl(r.Fd, IommufdIoctl.VdeviceTsmReq, r.Calls.Scratch.Put(s)));
    }

    [Fact]
    public void Measurements_BeforeRegen_AreEnodata_RegenWithTheCallersNonce_ThenReadable()
    {
        var r = Make();
        Assert.Equal(-(long)Errno.ENODATA, r.Op(TsmReqOp.ObjectInfo, U32s(2), 4));
        var nonce = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();
        ulong noncePtr = r.Calls.Scratch.Put(nonce);
        Assert.Equal(0, r.Op(TsmReqOp.RegenObject, Cat(U32s(2, 0), U64s(1, noncePtr))));
        Assert.Equal(0, r.Op(TsmReqOp.ObjectInfo, U32s(2), 4, out var sz, out _));
        Assert.Equal(0, r.Op(TsmReqOp.ReadObject, Cat(U32s(2, 0), U64s(0)), (int)BitConverter.ToUInt32(sz), out var meas, out _));
        Assert.Equal(nonce, meas.AsSpan(4, 32).ToArray());
    }

    [Fact]
    public void Regen_NoncePointerFaults_ReturnsEfault_AndTheRmmIsNotAsked()
    {
        var r = Make();
        long before = r.RmiCalls;
        Assert.Equal(-(long)Errno.EFAULT, r.Op(TsmReqOp.RegenObject, Cat(U32s(2, 0), U64s(0, 0x6000_0000_0000))));
        Assert.Equal(before, r.RmiCalls);
    }

    [Fact]
    public void Regen_InterfaceReport_RefetchesIt_OtherObjectsOrFlagsAreEinval()
    {
        var r = Make();
        long before = r.RmiCalls;
        Assert.Equal(0, r.Op(TsmReqOp.RegenObject, Cat(U32s(3, 0), U64s(0, 0))));
        Assert.Contains(Rmi.VdevGetInterfaceReport, r.Rmm.RmiLog.Since(before));
        Assert.Equal(EINVAL, r.Op(TsmReqOp.RegenObject, Cat(U32s(0, 0), U64s(0, 0))));
        Assert.Equal(EINVAL, r.Op(TsmReqOp.RegenObject, Cat(U32s(2, 0), U64s(2, r.Calls.Scratch.Put(new byte[32])))));
    }

    [Theory]
    [InlineData(TsmReqOp.ValidateMmio, 23)]
    [InlineData(TsmReqOp.ValidateMmio, 25)]
    [InlineData(TsmReqOp.SetTdiState, 3)]
    [InlineData(TsmReqOp.SetTdiState, 8)]
    [InlineData(TsmReqOp.ObjectInfo, 8)]
    [InlineData(TsmReqOp.ReadObject, 15)]
    [InlineData(TsmReqOp.ReadObject, 24)]
    [InlineData(TsmReqOp.RegenObject, 16)]
    [InlineData(TsmReqOp.RegenObject, 32)]
    public void WrongPayloadLength_ReturnsEinval_FirmwareNotCalled(TsmReqOp op, int length)
    {
        var r = Make();
        long before = r.RmiCalls;
        Assert.Equal(EINVAL, r.Op(op, new byte[length], 16));
        Assert.Equal(before, r.RmiCalls);
    }

    [Fact]
    public void UnknownObject_OrNonZeroReserved_ReturnsEinval()
    {
        var r = Make();
        Assert.Equal(EINVAL, r.Op(TsmReqOp.ObjectInfo, U32s(4), 4));
        Assert.Equal(EINVAL, r.Op(TsmReqOp.ReadObject, Cat(U32s(9, 0), U64s(0)), 16));
        Assert.Equal(EINVAL, r.Op(TsmReqOp.ReadObject, Cat(U32s(3, 1), U64s(0)), 16));
        Assert.Equal(EINVAL, r.Op(TsmReqOp.RegenObject, Cat(U32s(3, 1), U64s(0, 0))));
    }

    [Fact]
    public void WrongArch_IsRefusedByTheKernel_AndByTheBackendItself()
    {
        var r = Make();
        Assert.Equal(EINVAL, r.Calls.TsmRequest(r.Fd, r.Vdev, TsmReqOp.SetTdiState, TvmArch.Sev, U32s(2), 0, out _, out _));
        var tdi = r.Kernel.Functions[0].Tdi!;
        var req = new TsmGuestRequest { Profile = TsmAbiProfile.OpArch, Op = TsmReqOp.SetTdiState, Arch = TvmArch.Sev, Request = U32s(2), Memory = r.Calls.Process.Memory };
        Assert.Equal((int)EINVAL, tdi.Tsm.Platform.GuestRequest(tdi, ref req));
        Assert.Equal(TdiState.ConfigLocked, r.DeviceState);
    }

    [Fact]
    public void RequestBeforeBind_ReturnsEnxio()
    {
        var r = Make(bind: false);
        Assert.Equal(-(long)Errno.ENXIO, r.Op(TsmReqOp.ObjectInfo, U32s(3), 4));
        Assert.Equal(-(long)Errno.ENXIO, r.Op(TsmReqOp.SetTdiState, U32s(2)));
    }

    [Fact]
    public void SetTdiState_OnlyRunIsAccepted_RunStartsTheTdi_ASecondRunIsRefusedByTheRmm()
    {
        var r = Make();
        Assert.Equal(EINVAL, r.Op(TsmReqOp.SetTdiState, U32s(1)));
        Assert.Equal(EINVAL, r.Op(TsmReqOp.SetTdiState, U32s(0)));
        Assert.Equal(0, r.Op(TsmReqOp.SetTdiState, U32s(2), 0, out _, out ulong code));
        Assert.Equal(0ul, code);
        Assert.Equal(TdiState.Run, r.DeviceState);
        Assert.Equal(EINVAL, r.Op(TsmReqOp.SetTdiState, U32s(2), 0, out _, out code));
        Assert.Equal((ulong)RmiStatus.ErrorInput, code);
    }

    [Fact]
    public void SetTdiState_DeviceRefusesStart_ReturnsEio_TsmCodeDevice_StaysLocked()
    {
        var r = Make(config: TamperHost.Configuration(TsmAbiProfile.OpArch, out var tamper));
        tamper.XorNext = 0x80;
        Assert.Equal(-(long)Errno.EIO, r.Op(TsmReqOp.SetTdiState, U32s(2), 0, out _, out ulong code));
        Assert.Equal((ulong)RmiStatus.ErrorDevice, code);
        Assert.Equal(TdiState.ConfigLocked, r.DeviceState);
    }

    [Fact]
    public void ValidateMmio_MapsReportPages_IsIdempotent_AndRefusesWhatTheReportDoesNotAllow()
    {
        var r = Make();
        const ulong g = 0x1_0000_0000;
        Assert.Equal(0, r.Op(TsmReqOp.ValidateMmio, U64s(g, g + 0x2000, 0xf000_0000)));
        Assert.Equal(0, r.Op(TsmReqOp.ValidateMmio, U64s(g, g + 0x2000, 0xf000_0000)));
        // Same IPA, another PA: refused, nothing new stays mapped.
        Assert.Equal(EINVAL, r.Op(TsmReqOp.ValidateMmio, U64s(g, g + 0x1000, 0xf000_4000), 0, out _, out ulong code));
        Assert.Equal((ulong)RmiStatus.ErrorRtt, code);
        // The MSI-X table page is IS_NON_TEE_MEM; an address outside every range is not the device's.
        Assert.Equal(EINVAL, r.Op(TsmReqOp.ValidateMmio, U64s(g + 0x10_0000, g + 0x10_1000, 0xf000_2000), 0, out _, out code));
        Assert.Equal((ulong)RmiStatus.ErrorInput, code);
        Assert.Equal(EINVAL, r.Op(TsmReqOp.ValidateMmio, U64s(g + 0x10_0000, g + 0x10_1000, 0x1000_0000)));
        // Empty, reversed or unaligned ranges never reach the RMM.
        long before = r.RmiCalls;
        Assert.Equal(EINVAL, r.Op(TsmReqOp.ValidateMmio, U64s(g, g, 0xf000_0000)));
        Assert.Equal(EINVAL, r.Op(TsmReqOp.ValidateMmio, U64s(g + 0x2000, g, 0xf000_0000)));
        Assert.Equal(EINVAL, r.Op(TsmReqOp.ValidateMmio, U64s(g + 1, g + 0x1001, 0xf000_0000)));
        Assert.Equal(before, r.RmiCalls);
    }

    [Fact]
    public void ValidateMmio_RangeRunningOffTheReport_MapsNothing()
    {
        var r = Make();
        const ulong g = 0x2_0000_0000;
        // BAR0's first TEE range is two pages; three pages run into the MSI-X table page. The RMM
        // checks the whole RTT_DEV_MAP run before mapping any of it, so nothing needs unmapping.
        long before = r.Rmm.RmiLog.Count;
        Assert.Equal(EINVAL, r.Op(TsmReqOp.ValidateMmio, U64s(g, g + 0x3000, 0xf000_0000)));
        Assert.Equal([Rmi.RttDevMap], r.Rmm.RmiLog.Since(before));
        Assert.Equal(0, r.Op(TsmReqOp.ValidateMmio, U64s(g, g + 0x2000, 0xf000_0000)));
    }

    [Fact]
    public void CopyBackFaultAfterRun_ReturnsEfault_TheTdiIsInRun_AndTsmInfoReportsUncertainCompletion()
    {
        var r = Make();
        const ulong page = 0x7c00_0000_0000;
        var mem = r.Calls.Process.Memory;
        Assert.Equal(0, mem.Map(page, 4096, Prot.ReadWrite));
        var s = new byte[IommuVdeviceTsmReqOpArch.SizeOf];
        BinaryPrimitives.WriteUInt32LittleEndian(s, (uint)s.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(s.AsSpan(4), r.Vdev);
        BinaryPrimitives.WriteUInt32LittleEndian(s.AsSpan(8), (uint)TsmReqOp.SetTdiState);
        BinaryPrimitives.WriteUInt32LittleEndian(s.AsSpan(12), (uint)TvmArch.Cca);
        BinaryPrimitives.WriteUInt32LittleEndian(s.AsSpan(16), 4);
        BinaryPrimitives.WriteUInt64LittleEndian(s.AsSpan(24), r.Calls.Scratch.Put(U32s(2)));
        mem.CopyToUser(page, s);
        Assert.Equal(0, mem.Protect(page, 4096, Prot.Read));
        Assert.Equal(-(long)Errno.EFAULT, r.Calls.Process.Ioctl(r.Fd, IommufdIoctl.VdeviceTsmReq, page));
        Assert.Equal(TdiState.Run, r.DeviceState);
        Assert.True(r.A.Discover());
        Assert.True(r.A.Info!.Value.UncertainCompletion);
        Assert.Equal(TdiState.Run, r.A.Info!.Value.TdiState);
    }

    // ---- scope profile ----

    [Fact]
    public void Scope_EveryV4Payload_IsServedInItsScope()
    {
        var r = Make(TsmAbiProfile.Scope);
        Assert.Equal(0, r.Scoped(TsmReqScope.PciInfo, U32s(1, (uint)Rhi.ObjInterfaceReport), 4));
        Assert.Equal(0, r.Scoped(TsmReqScope.PciInfo, U32s(3)));
        Assert.Equal(0, r.Scoped(TsmReqScope.PciInfo, Cat(U32s(4, 0), U64s(1, r.Calls.Scratch.Put(new byte[32])))));
        Assert.Equal(0, r.Calls.TsmRequestScoped(r.Fd, r.Vdev, TsmReqScope.PciInfo, U32s(1, (uint)Rhi.ObjMeasurement), 4, out var sz));
        Assert.Equal(0, r.Calls.TsmRequestScoped(r.Fd, r.Vdev, TsmReqScope.PciInfo, Cat(U32s(2, (uint)Rhi.ObjMeasurement), U64s(0)), (int)BitConverter.ToUInt32(sz), out var meas));
        Assert.Equal(new byte[32], meas.AsSpan(4, 32).ToArray());
        Assert.Equal(0, r.Scoped(TsmReqScope.PciStateChange, Cat(U32s(5, 0), U64s(0x1_0000_0000, 0x1_0000_1000, 0xf000_0000))));
        Assert.Equal(0, r.Scoped(TsmReqScope.PciStateChange, U32s(6, 2)));
        Assert.Equal(TdiState.Run, r.DeviceState);
    }

    [Fact]
    public void Scope_WrongScope_ReturnsEinval_AndTheFirmwareIsNeverCalled()
    {
        var r = Make(TsmAbiProfile.Scope);
        long before = r.RmiCalls;
        Assert.Equal(EINVAL, r.Scoped(TsmReqScope.PciStateChange, U32s(1, (uint)Rhi.ObjInterfaceReport), 4));
        Assert.Equal(EINVAL, r.Scoped(TsmReqScope.PciInfo, U32s(6, 2)));
        Assert.Equal(EINVAL, r.Scoped(TsmReqScope.PciInfo, Cat(U32s(5, 0), U64s(0x1_0000_0000, 0x1_0000_1000, 0xf000_0000))));
        Assert.Equal(before, r.RmiCalls);
        Assert.Equal(TdiState.ConfigLocked, r.DeviceState);
    }

    [Theory]
    [InlineData(1u, 12)]
    [InlineData(2u, 8)]
    [InlineData(3u, 8)]
    [InlineData(4u, 16)]
    [InlineData(5u, 24)]
    [InlineData(6u, 4)]
    [InlineData(7u, 8)]
    [InlineData(0u, 8)]
    public void Scope_WrongLengthOrUnknownReqType_ReturnsEinval(uint reqType, int length)
    {
        var r = Make(TsmAbiProfile.Scope);
        var p = new byte[length];
        if (length >= 4) BitConverter.GetBytes(reqType).CopyTo(p, 0);
        Assert.Equal(EINVAL, r.Scoped(reqType is 5 or 6 ? TsmReqScope.PciStateChange : TsmReqScope.PciInfo, p, 16));
    }

    [Fact]
    public void Scope_UnknownObjectOrReserved_ReturnsEinval_RunOnlyForSetTdiState()
    {
        var r = Make(TsmAbiProfile.Scope);
        Assert.Equal(EINVAL, r.Scoped(TsmReqScope.PciInfo, U32s(1, 0), 4));
        Assert.Equal(EINVAL, r.Scoped(TsmReqScope.PciInfo, U32s(1, 5), 4));
        Assert.Equal(EINVAL, r.Scoped(TsmReqScope.PciInfo, Cat(U32s(4, 1), U64s(1, 0))));
        Assert.Equal(EINVAL, r.Scoped(TsmReqScope.PciStateChange, Cat(U32s(5, 1), U64s(0x1_0000_0000, 0x1_0000_1000, 0xf000_0000))));
        Assert.Equal(EINVAL, r.Scoped(TsmReqScope.PciStateChange, U32s(6, 1)));
    }
}
