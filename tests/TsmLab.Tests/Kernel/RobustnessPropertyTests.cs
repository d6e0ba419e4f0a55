using CsCheck;
using TsmLab.Abi;
using TsmLab.Hosts;
using TsmLab.Kernel;

namespace TsmLab.Tests.Kernel;

/// <summary>Bad input never throws out of the model: random ioctls on every kind of fd, and random replay lines.</summary>
public class RobustnessPropertyTests
{
    private static readonly uint[] Commands =
    [
        IommufdIoctl.Destroy, IommufdIoctl.IoasAlloc, IommufdIoctl.HwptAlloc, IommufdIoctl.ViommuAlloc, IommufdIoctl.VdeviceAlloc,
        IommufdIoctl.VdeviceTsmOp, IommufdIoctl.VdeviceTsmReq, IommufdIoctl.VdeviceTsmInfo, VfioIoctl.DeviceBindIommufd,
        VfioIoctl.DeviceAttachIommufdPt, KvmIoctl.CreateVm, KvmIoctl.CreateDevice, KvmIoctl.SetDeviceAttr, KvmIoctl.GetApiVersion,
        IommufdIoctl.IoasAllowIovas, IommufdIoctl.IoasCopy, IommufdIoctl.IoasIovaRanges, IommufdIoctl.IoasMap, IommufdIoctl.IoasUnmap,
        IommufdIoctl.Option, IommufdIoctl.VfioIoas, IommufdIoctl.GetHwInfo, IommufdIoctl.HwptSetDirtyTracking, IommufdIoctl.HwptGetDirtyBitmap,
        IommufdIoctl.HwptInvalidate, VfioContainerIoctl.GetApiVersion, VfioContainerIoctl.CheckExtension, VfioContainerIoctl.SetIommu,
        VfioContainerIoctl.IommuGetInfo, VfioContainerIoctl.IommuMapDma, VfioContainerIoctl.IommuUnmapDma,
        IommufdIoctl.FaultQueueAlloc, IommufdIoctl.IoasChangeProcess, IommufdIoctl.VeventqAlloc, IommufdIoctl.HwQueueAlloc,
        // IOAS_MAP_FILE is left out: mapping the iommufd's own fd makes its pages hold the file, a
        // reference cycle that keeps the context alive after exit, as in Linux (docs/errno.md).
    ];

    [Fact]
    public void RandomIoctlsWithRandomStructs_NeverThrow()
    {
        var gen = Gen.Select(Gen.Int[3, 12], Gen.OneOf(Gen.Int[0, Commands.Length - 1].Select(i => Commands[i]), Gen.UInt), Gen.Byte.Array[0, 80], Gen.Bool)
            .Array[1, 40];
        gen.Sample(calls =>
        {
            var r = TestHosts.Assigned(TvmArch.Cca);
            var p = r.Vmm;
            p.Open("/dev/kvm");
            p.Open("/dev/vfio/devices/vfio1");
            const ulong buf = 0x20_0000;
            p.Memory.Map(buf, 4096, Prot.ReadWrite);
            foreach (var (fd, cmd, bytes, small) in calls)
            {
                p.Memory.CopyToUser(buf + 4096 - (ulong)bytes.Length, bytes);
                ulong arg = small ? (ulong)bytes.Length : buf + 4096 - (ulong)bytes.Length;
                long rc = p.Ioctl(fd, cmd, arg);
                Assert.True(rc >= -133, $"ioctl 0x{cmd:x} on fd {fd} returned {rc}");
            }
            p.Exit();
            Assert.Empty(r.Kernel.IommufdContexts);
            Assert.Null(r.Function.Tdi);
        }, iter: 200, threads: 1);
    }

    [Fact]
    public void RandomSelftestCommandsAndObjectIoctls_NeverThrow_AndExitReleasesEverything()
    {
        // Small ids and real ops, so the random calls meet each other's objects: mock devices,
        // nested HWPTs, queues, PASIDs, HW queues, accesses.
        uint[] cmds = [.. Commands.Where(c => c >> 8 == IommufdIoctl.Type), IommuTestCmd.Number, IommuTestCmd.Number, IommuTestCmd.Number];
        var call = Gen.Select(Gen.Int[0, cmds.Length - 1].Select(i => cmds[i]), Gen.UInt[1, 21], Gen.UInt[0, 12].Array[18], Gen.Bool);
        call.Array[1, 60].Sample(calls =>
        {
            var k = HostKernel.Boot(BuiltInHosts.Find(BuiltInHosts.SelftestHost)!);
            var p = k.CreateProcess();
            int fd = p.Open("/dev/iommu");
            const ulong buf = 0x20_0000;
            p.Memory.Map(buf, 2 * 4096, Prot.ReadWrite);
            var bytes = new byte[72];
            foreach (var (cmd, op, words, flagsHigh) in calls)
            {
                for (int i = 0; i < 18; i++) System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(i * 4), words[i]);
                var size = AbiCatalog.Find(TsmAbiProfile.OpArch, cmd)?.Struct.Size ?? IommuTestCmd.SizeOf;
                System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(bytes, (uint)size);
                if (cmd == IommuTestCmd.Number) System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(IommuTestCmd.Op), op);
                if (flagsHigh) System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(32), buf + 4096); // a pointer into mapped memory
                p.Memory.CopyToUser(buf, bytes);
                long rc = p.Ioctl(fd, cmd, buf);
                Assert.True(rc >= -133, $"ioctl 0x{cmd:x} returned {rc}");
            }
            p.Exit();
            Assert.Empty(k.IommufdContexts);
        }, iter: 300, threads: 1);
    }

    [Fact]
    public void RandomReplayLines_AlwaysAnswerOneJsonLine()
    {
        var field = Gen.OneOf(Gen.Const("\"op\":\"ioctl\""), Gen.Const("\"op\":\"mmap\""), Gen.Const("\"op\":\"read\""), Gen.Const("\"op\":\"write\""),
            Gen.Const("\"fd\":3"), Gen.Const("\"fd\":-1"), Gen.Const("\"cmd\":\"0x3b96\""), Gen.Const("\"arg\":\"0x\""), Gen.Const("\"addr\":1e400"),
            Gen.Const("\"len\":99999999999"), Gen.Const("\"hex\":\"0\""), Gen.Const("\"prot\":7"), Gen.String.Select(s => $"\"{s.Replace("\"", "", StringComparison.Ordinal).Replace("\\", "", StringComparison.Ordinal)}\":1"));
        var line = Gen.OneOf(field.Array[0, 5].Select(fs => "{" + string.Join(",", fs) + "}"), Gen.String);
        line.Sample(l =>
        {
            var session = new ReplaySession(HostKernel.Boot(BuiltInHosts.Find("default")!));
            string? answer = session.Execute(l.Replace("\n", " ", StringComparison.Ordinal).Replace("\r", " ", StringComparison.Ordinal));
            if (answer is null) return;
            using var doc = System.Text.Json.JsonDocument.Parse(answer);
            Assert.Equal(1, doc.RootElement.GetProperty("line").GetInt32());
        }, iter: 500, threads: 1);
    }
}
