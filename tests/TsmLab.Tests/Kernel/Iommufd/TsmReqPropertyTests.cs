using CsCheck;
using TsmLab.Abi;
using TsmLab.Kernel.Iommufd;
using static TsmLab.Tests.Kernel.Raw;

namespace TsmLab.Tests.Kernel.Iommufd;

/// <summary>
/// Random TSM_REQ structs against a small reference of the documented order of checks
/// (docs/errno.md): the kernel's answer, whether the firmware ran, and that a refused request
/// never changes the TDI state.
/// </summary>
public class TsmReqPropertyTests
{
    private static readonly Gen<uint> Arch = Gen.OneOf(Gen.Const(1u), Gen.Const(1u), Gen.UInt[0, 4], Gen.UInt);
    private static readonly Gen<uint> Op = Gen.OneOf(Gen.UInt[1, 7], Gen.UInt[0, 8], Gen.UInt);
    private static readonly Gen<uint> ReqLen = Gen.OneOf(Gen.Const(0u), Gen.Const(4u), Gen.Const(16u), Gen.Const(24u), Gen.Const(64u), Gen.Const(65u), Gen.UInt[0, 100]);

    /// <summary>The reference: errno (or null when the platform decides) for a bound CCA rig.</summary>
    private static int? Reference(uint arch, uint op, bool vdevOk, uint reqLen)
    {
        if (arch is < 1 or > 3) return Neg(Errno.EINVAL);
        bool opValid = op switch { 1 or 2 => true, 3 or 4 or 9 => arch == 2, 5 or 6 or 7 => arch == 1, 8 => arch == 3, _ => false };
        if (!opValid) return Neg(Errno.EINVAL);
        if (!vdevOk) return Neg(Errno.ENOENT);
        if (arch != (uint)TvmArch.Cca) return Neg(Errno.EINVAL);          // not the VM's arch
        if (reqLen > 64 || op == (uint)TsmReqOp.RegenObject) return Neg(Errno.EINVAL); // not served by the test TSM
        return null;
    }

    [Fact]
    public void RandomRequests_FollowTheDocumentedOrderOfChecks()
    {
        int reachedFirmware = 0, refused = 0;
        Gen.Select(Arch, Op, Gen.Bool, ReqLen, Gen.UInt[0, 3]).Sample((arch, op, vdevOk, reqLen, state) =>
        {
            var r = TestHosts.Assigned(TvmArch.Cca);
            // Put the TDI in a random state first (through the real path).
            Assert.Equal(0, r.Calls.TsmRequest(r.IommuFd, r.Vdev, TsmReqOp.SetTdiState, TvmArch.Cca, BitConverter.GetBytes(Math.Min(state, 2u)), 0, out _, out _));
            var before = r.Kernel.Tsm.StateOf(r.Function);
            int requestsBefore = r.Platform.Requests;
            MapBuffer(r.Vmm);
            var payload = new byte[reqLen];
            if (reqLen >= 4) BitConverter.GetBytes(1u).CopyTo(payload, 0);
            r.Vmm.Memory.CopyToUser(Buf + 8192, payload);
            uint vdev = vdevOk ? r.Vdev : r.Assignment.IoasId;
            long rc = Ioctl(r.Vmm, r.IommuFd, IommufdIoctl.VdeviceTsmReq,
                Struct(48, U32(4, vdev), U32(8, op), U32(12, arch), U32(16, reqLen), U32(20, 16), U64(24, Buf + 8192), U64(32, Buf + 12288)));
            int? expected = Reference(arch, op, vdevOk, reqLen);
            if (expected is { } e)
            {
                Interlocked.Increment(ref refused);
                Assert.Equal(e, rc);
                Assert.Equal(requestsBefore, r.Platform.Requests);
                Assert.Equal(before, r.Kernel.Tsm.StateOf(r.Function));
            }
            else
            {
                Interlocked.Increment(ref reachedFirmware);
                Assert.Equal(requestsBefore + 1, r.Platform.Requests);
                Assert.True(rc <= 16, $"residue {rc} larger than the response buffer");
                if (rc < 0) Assert.Equal(before, r.Kernel.Tsm.StateOf(r.Function));
            }
            var v = r.Kernel.IommufdContexts.Single().Get<Vdevice>(r.Vdev)!;
            // A refusal is counted on the vDevice exactly when the id names it and the answer is EINVAL.
            Assert.Equal(vdevOk && rc == Neg(Errno.EINVAL) ? 1 : 0, v.TotalRejections);
        }, iter: 300, threads: 1);
        Assert.True(reachedFirmware > 10 && refused > 10, $"weak sample: {reachedFirmware} reached the firmware, {refused} refused");
    }
}
