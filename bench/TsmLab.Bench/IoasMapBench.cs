using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using TsmLab.Abi;
using TsmLab.Hosts;
using TsmLab.Kernel;
using TsmLab.Kernel.Pci;
using TsmLab.Vmm;

namespace TsmLab.Bench;

/// <summary>
/// IOAS_MAP + IOAS_UNMAP of guest RAM on an IOAS that has a domain, so each map pins and charges
/// the pages and each unmap refunds them: the fd table, the dispatch, the io_pagetable's IOVA
/// checks, the pin check against the VMM's mappings and the accounting. 4 KiB and 64 GiB (sparse)
/// maps cost the same: the model keeps one area and page counts, never per-page objects. Anchor:
/// the TSM request path of <see cref="TsmRequestPathBench"/> (one ioctl that allocates nothing).
/// </summary>
[MemoryDiagnoser]
public class IoasMapBench
{
    private Process vmm = null!;
    private int fd;
    private ulong map4k, map64g, unmap4k, unmap64g;

    [GlobalSetup]
    public void Setup()
    {
        var config = new HostConfiguration
        {
            Name = "bench", Arch = HostArch.X86_64, VmTypes = [new ConfidentialVmType(KvmVmType.X86SnpVm, TvmArch.Sev)], Iommu = HostIommu.AmdVi,
            Functions = BuiltInHosts.DefaultDeviceFunctions(),
            Tsms = [new TsmSpec("bench", (_, _) => new ImmediateTsm(TvmArch.Sev))],
            Connects = [(new PciAddress(0, 1, 0, 0), "tsm0")],
        };
        var kernel = HostKernel.Boot(config);
        vmm = kernel.CreateProcess();
        var a = new DeviceAssignment(vmm, new AssignmentPlan("/dev/vfio/devices/vfio0", KvmVmType.X86SnpVm, 3, new PciAddress(0, 0, 3, 0)));
        if (!a.Prepare()) throw new InvalidOperationException("assignment failed");
        fd = a.IommuFd;
        const ulong ram = 0x1000_0000_0000, size = 64ul << 30;
        if (vmm.Memory.Map(ram, size, Prot.ReadWrite) != 0) throw new InvalidOperationException("mmap");
        vmm.Limits.MemlockLimit = ProcessLimits.Infinity;
        map4k = a.Calls.Scratch.Put(Map(a.IoasId, ram, 0x1000, 1ul << 40));
        map64g = a.Calls.Scratch.Put(Map(a.IoasId, ram, size, 1ul << 40));
        unmap4k = a.Calls.Scratch.Put(Unmap(a.IoasId, 1ul << 40, 0x1000));
        unmap64g = a.Calls.Scratch.Put(Unmap(a.IoasId, 1ul << 40, size));
    }

    private static byte[] Map(uint ioas, ulong uva, ulong length, ulong iova)
    {
        var s = new byte[IommuIoasMap.SizeOf];
        BinaryPrimitives.WriteUInt32LittleEndian(s, IommuIoasMap.SizeOf);
        BinaryPrimitives.WriteUInt32LittleEndian(s.AsSpan(IommuIoasMap.Flags), IommuIoasMapFlags.All);
        BinaryPrimitives.WriteUInt32LittleEndian(s.AsSpan(IommuIoasMap.IoasId), ioas);
        BinaryPrimitives.WriteUInt64LittleEndian(s.AsSpan(IommuIoasMap.UserVa), uva);
        BinaryPrimitives.WriteUInt64LittleEndian(s.AsSpan(IommuIoasMap.Length), length);
        BinaryPrimitives.WriteUInt64LittleEndian(s.AsSpan(IommuIoasMap.Iova), iova);
        return s;
    }

    private static byte[] Unmap(uint ioas, ulong iova, ulong length)
    {
        var s = new byte[IommuIoasUnmap.SizeOf];
        BinaryPrimitives.WriteUInt32LittleEndian(s, IommuIoasUnmap.SizeOf);
        BinaryPrimitives.WriteUInt32LittleEndian(s.AsSpan(IommuIoasUnmap.IoasId), ioas);
        BinaryPrimitives.WriteUInt64LittleEndian(s.AsSpan(IommuIoasUnmap.Iova), iova);
        BinaryPrimitives.WriteUInt64LittleEndian(s.AsSpan(IommuIoasUnmap.Length), length);
        return s;
    }

    [Benchmark(Baseline = true, Description = "IOAS_MAP + UNMAP 4 KiB, pinned")]
    public long Map4K() => vmm.Ioctl(fd, IommufdIoctl.IoasMap, map4k) + vmm.Ioctl(fd, IommufdIoctl.IoasUnmap, unmap4k);

    [Benchmark(Description = "IOAS_MAP + UNMAP 64 GiB, pinned")]
    public long Map64G() => vmm.Ioctl(fd, IommufdIoctl.IoasMap, map64g) + vmm.Ioctl(fd, IommufdIoctl.IoasUnmap, unmap64g);
}
