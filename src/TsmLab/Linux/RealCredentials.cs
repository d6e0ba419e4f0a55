using System.Globalization;
using TsmLab.Kernel;

namespace TsmLab.Linux;

/// <summary>
/// A traced program's RLIMIT_MEMLOCK (prlimit64(pid, RLIMIT_MEMLOCK, NULL, &amp;old)) and effective
/// capabilities (<c>CapEff</c> of /proc/PID/status), read when iommufd charges a pin, so
/// <c>tsmlab run</c> answers ENOMEM exactly when the program's own limit is passed. Unreadable
/// answers are the safe ones: limit 0 and no capability would refuse every charged pin, so a
/// failed read gives Linux's default 8 MiB and no capabilities instead.
/// </summary>
public sealed unsafe class RealCredentials(int pid) : IProcessCredentials
{
    private const int RlimitMemlock = 8;

    public ulong MemlockLimit
    {
        get
        {
            ulong* old = stackalloc ulong[2];
            long rc = Sys.Call(SysNr.Prlimit64, pid, RlimitMemlock, 0, (long)old);
            return rc == 0 ? old[0] : ProcessLimits.DefaultMemlock;
        }
    }

    public bool Capable(int capability)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
                if (line.StartsWith("CapEff:", StringComparison.Ordinal))
                    return ulong.TryParse(line.AsSpan(7).Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong eff)
                        && (eff & (1ul << capability)) != 0;
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return false;
    }
}
