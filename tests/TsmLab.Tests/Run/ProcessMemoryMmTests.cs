using System.Diagnostics;
using TsmLab.Abi;
using TsmLab.Kernel;
using TsmLab.Linux;

namespace TsmLab.Tests.Run;

/// <summary>
/// <see cref="ProcessMemory.OfThisMm"/>: the mm an IOAS_MAP keeps (<c>source_mm</c>) under
/// <c>tsmlab run</c>, where one memory object follows whichever thread calls. Read on this test
/// process and on a child that has exited.
/// </summary>
public class ProcessMemoryMmTests
{
    [LinuxFact]
    public void OfThisMm_IsTheCallersThreadGroup_AndAnExitedProcessCannotBePinned()
    {
        // Any thread of this process gives the process (its thread group).
        int thread = Directory.GetDirectories("/proc/self/task").Select(d => int.Parse(Path.GetFileName(d))).Max();
        var mm = (ProcessMemory)new ProcessMemory { Tid = thread }.OfThisMm();
        Assert.Equal(Environment.ProcessId, mm.Tid);
        var stack = new ProcessMemory { Tid = Environment.ProcessId };
        ulong mapped = FirstReadableMapping();
        Assert.Equal(0, mm.CheckPinnable(mapped, AddressSpace.PageSize, write: false));

        // A process that has exited (and was reaped): its pages cannot be pinned any more.
        using var child = System.Diagnostics.Process.Start(new ProcessStartInfo("/bin/true") { UseShellExecute = false })!;
        int pid = child.Id;
        child.WaitForExit();
        var gone = new ProcessMemory { Tid = pid };
        Assert.Equal(-(int)Errno.EFAULT, gone.CheckPinnable(mapped, AddressSpace.PageSize, write: false));
        Assert.Equal(0, stack.CheckPinnable(mapped, AddressSpace.PageSize, write: false));
    }

    private static ulong FirstReadableMapping()
    {
        foreach (var line in File.ReadLines("/proc/self/maps"))
        {
            int dash = line.IndexOf('-'), space = line.IndexOf(' ');
            if (line[space + 1] == 'r') return ulong.Parse(line.AsSpan(0, dash), System.Globalization.NumberStyles.HexNumber);
        }
        throw new InvalidOperationException("no readable mapping");
    }
}
