using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using TsmLab.Kernel;
using TsmLab.Linux;

namespace TsmLab.Tests.Run;

/// <summary>
/// The file identity the mock driver's MD_CHECK_MAP and MD_CHECK_REFS compare for IOAS_MAP_FILE
/// pages: a real process's mapping (/proc/TID/maps) against the pinned file (fstat), read here on
/// this test process's own memory.
/// </summary>
public class FileBackingTests
{
    [LinuxFact]
    public void AFileMapping_HasTheFilesIdentityAndOffset_AnonymousMemoryHasNone()
    {
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(path, new byte[2 * AddressSpace.PageSize]);
            using var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
            using var view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            ulong at = (ulong)view.SafeMemoryMappedViewHandle.DangerousGetHandle() + (ulong)view.PointerOffset;
            var memory = new ProcessMemory { Tid = Environment.ProcessId };
            Assert.True(memory.TryGetFileBacking(at + 0x1005, out var mapped, out ulong offset));
            Assert.Equal(0x1005ul, offset);
            using var handle = File.OpenHandle(path);
            var source = new RealFilePinSource((int)handle.DangerousGetHandle(), 0);
            Assert.True(source.TryGetFileIdentity(out var file));
            Assert.Equal(file, mapped);
            // Not disposed: the SafeFileHandle owns the fd.
            nint heap = Marshal.AllocHGlobal(64);
            try { Assert.False(memory.TryGetFileBacking((ulong)heap, out _, out _)); }
            finally { Marshal.FreeHGlobal(heap); }
        }
        finally { File.Delete(path); }
    }
}

/// <summary>A fact that reports itself skipped, with the reason, off Linux (it reads /proc and calls fstat).</summary>
public sealed class LinuxFactAttribute : FactAttribute
{
    public LinuxFactAttribute()
    {
        if (!OperatingSystem.IsLinux()) Skip = "needs Linux: /proc/PID/maps and fstat";
    }
}
