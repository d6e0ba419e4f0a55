using TsmLab.Abi;
using TsmLab.Kernel;
using TsmLab.Platforms.Cca;
using TsmLab.Platforms.Cca.Abi;
using TsmLab.Tdisp.Wire;


using TsmLab.Tests.Kernel;
using System.Buffers.Binary;

namespace TsmLab.Tests.Platforms;

/// <summary>
/// Several vCPU threads of the CCA VMM forward guest requests to the real host driver at once
/// (OBJECT_INFO and READ_OBJECT of the cached evidence), while another asks TSM_INFO: the DSM's
/// mutex serialises them into the firmware, and every answer equals the single-threaded one.
/// </summary>
public class PlatformRequestStressTests
{
    [Fact]
    public void ConcurrentEvidenceReads_OnTheCcaHost_AllSeeTheSameBytes()
    {
        var s = CcaRealmSession.Start();
        Assert.True(s.Guest.Lock(), s.Guest.Failure);
        var p = s.Assignment.Calls.Process;
        int iommufd = s.Assignment.IommuFd;
        uint vdev = s.Assignment.VdeviceId;
        int next = 0;

        (long Rc, byte[] Bytes) Request(ulong at, TsmReqOp op, byte[] payload, int respLen)
        {
            var req = new byte[IommuVdeviceTsmReqOpArch.SizeOf];
            IommuVdeviceTsmReqOpArch.Write(req, vdev, op, TvmArch.Cca, (uint)payload.Length, (uint)respLen, at + 0x1000, respLen > 0 ? at + 0x2000 : 0);
            Assert.Equal(0, p.Memory.CopyToUser(at + 0x1000, payload));
            Assert.Equal(0, p.Memory.CopyToUser(at, req));
            long rc = p.Ioctl(iommufd, IommufdIoctl.VdeviceTsmReq, at);
            var resp = new byte[Math.Max(0, respLen - (int)Math.Max(0, rc))];
            if (rc >= 0 && resp.Length > 0) Assert.Equal(0, p.Memory.CopyFromUser(resp, at + 0x2000));
            return (rc, resp);
        }

        byte[] ReadReport(ulong at)
        {
            var (rc, size) = Request(at, TsmReqOp.ObjectInfo, BitConverter.GetBytes((uint)CacheObject.InterfaceReport), 4);
            Assert.True(rc >= 0, $"OBJECT_INFO {rc}");
            int length = BitConverter.ToInt32(size);
            var read = new byte[16];
            BitConverter.TryWriteBytes(read, (uint)CacheObject.InterfaceReport);
            var (rc2, bytes) = Request(at, TsmReqOp.ReadObject, read, length);
            Assert.True(rc2 >= 0, $"READ_OBJECT {rc2}");
            return bytes;
        }

        ulong Region()
        {
            ulong at = 0x5000_0000UL + (ulong)Interlocked.Increment(ref next) * 0x100000;
            Assert.Equal(0, p.Memory.Map(at, 0x100000, Prot.ReadWrite));
            return at;
        }

        var expected = ReadReport(Region());
        Assert.NotEmpty(expected);
        void Reader(Worker w)
        {
            ulong at = Region();
            while (!w.Stopping)
            {
                w.Step("OBJECT_INFO + READ_OBJECT interface report");
                Assert.Equal(expected, ReadReport(at));
            }
        }
        void Info(Worker w)
        {
            ulong at = Region();
            while (!w.Stopping)
            {
                w.Step("TSM_INFO");
                var info = new byte[IommuVdeviceTsmInfo.SizeOf];
                BinaryPrimitives.WriteUInt32LittleEndian(info, (uint)info.Length);
                BinaryPrimitives.WriteUInt32LittleEndian(info.AsSpan(IommuVdeviceTsmInfo.VdeviceId), vdev);
                Assert.Equal(0, p.Memory.CopyToUser(at, info));
                Assert.Equal(0, p.Ioctl(iommufd, IommufdIoctl.VdeviceTsmInfo, at));
                Assert.Equal(0, p.Memory.GetUser32(at + (ulong)IommuVdeviceTsmInfo.OutTdiState, out uint state));
                Assert.Equal((uint)TdiState.ConfigLocked, state);
            }
        }
        var workers = Watchdog.Run(TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(20),
            ("vcpu-0", Reader), ("vcpu-1", Reader), ("vcpu-2", Reader), ("info", Info));
        Assert.All(workers, w => Assert.True(w.Steps > 2, $"{w.Name} made only {w.Steps} steps"));
        Assert.True(s.Guest.Accept(), s.Guest.Failure);
        Assert.True(s.Guest.Unlock(), s.Guest.Failure);
    }
}
