using System.Globalization;
using TsmLab.Abi;
using TsmLab.Kernel;
using System.Buffers.Binary;

namespace TsmLab.Tracing;

/// <summary>
/// Records an ioctl crossing: its name from the ABI catalog, the struct decoded field by field
/// as the caller's memory holds it after the call (outputs filled in), and the result.
/// </summary>
public static class IoctlTrace
{
    public static void Record(TraceLog log, long seq, Process caller, int fd, uint cmd, ulong arg, long rc)
    {
        var abi = AbiCatalog.Find(caller.Kernel.Configuration.Profile, cmd);
        // The descriptor the ioctl was issued on, named for the file it is; struct fields keep their uAPI names.
        var fields = new List<TraceField> { new(FdKey(abi), fd.ToString(CultureInfo.InvariantCulture)) };
        string name = abi?.Name ?? $"ioctl 0x{cmd:x}";
        if (abi is null || abi.Struct.Size == 0)
        {
            fields.Add(new("arg", $"0x{arg:x}"));
        }
        else
        {
            var bytes = new byte[abi.Struct.Size];
            if (caller.UserMemory.CopyFromUser(bytes, arg) == 0)
            {
                foreach (var f in abi.Struct.Fields)
                {
                    ulong v = f.Size == 8 ? BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(f.Offset)) : f.Size == 4 ? BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(f.Offset)) : f.Size == 2 ? BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(f.Offset)) : bytes[f.Offset];
                    fields.Add(new(f.Name, f.Name.EndsWith("uptr", StringComparison.Ordinal) || f.Name == "addr" ? $"0x{v:x}" : v.ToString(CultureInfo.InvariantCulture)));
                }
            }
            else fields.Add(new("arg", $"0x{arg:x} (unreadable)"));
        }
        if (abi?.Name == "KVM_CREATE_DEVICE")
            for (int i = 1; i < fields.Count; i++)
                if (fields[i].Name == "fd") fields[i] = fields[i] with { Name = "device_fd" };
        string result = rc < 0 ? $"{rc} {ErrnoNames.NameOf(rc)}" : rc.ToString(CultureInfo.InvariantCulture);
        log.Record(seq, TraceLayer.Vmm, TraceLayer.Kernel, TraceKind.Ioctl, name, result, [.. fields]);
    }

    /// <summary>
    /// The key of the descriptor an ioctl was called on: <c>iommufd</c>, <c>vfio_device_fd</c>,
    /// <c>kvm_fd</c>, <c>vm_fd</c>, <c>kvm_device_fd</c>, or <c>ioctl_fd</c> for an unknown command.
    /// </summary>
    public static string FdKey(AbiIoctl? abi) => abi?.Device switch
    {
        "/dev/iommu" => "iommufd",
        "/dev/vfio/devices/vfioN" => "vfio_device_fd",
        "/dev/kvm" => "kvm_fd",
        "kvm-vm fd" => "vm_fd",
        "kvm-vfio device fd" => "kvm_device_fd",
        _ => "ioctl_fd",
    };
}
