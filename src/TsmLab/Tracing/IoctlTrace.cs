using System.Globalization;
using TsmLab.Abi;
using TsmLab.Kernel;

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
        var fields = new List<TraceField> { new("fd", fd.ToString(CultureInfo.InvariantCulture)) };
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
                    ulong v = f.Size == 8 ? Le.U64(bytes, f.Offset) : f.Size == 4 ? Le.U32(bytes, f.Offset) : f.Size == 2 ? Le.U16(bytes, f.Offset) : bytes[f.Offset];
                    fields.Add(new(f.Name, f.Name.EndsWith("uptr", StringComparison.Ordinal) || f.Name == "addr" ? $"0x{v:x}" : v.ToString(CultureInfo.InvariantCulture)));
                }
            }
            else fields.Add(new("arg", $"0x{arg:x} (unreadable)"));
        }
        string result = rc < 0 ? $"{rc} {ErrnoNames.NameOf(rc)}" : rc.ToString(CultureInfo.InvariantCulture);
        log.Record(seq, TraceLayer.Vmm, TraceLayer.Kernel, TraceKind.Ioctl, name, result, [.. fields]);
    }
}
