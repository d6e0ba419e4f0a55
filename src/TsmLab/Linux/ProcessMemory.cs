using TsmLab.Abi;
using TsmLab.Kernel;
using System.Buffers.Binary;

namespace TsmLab.Linux;

/// <summary>
/// A real process's user memory, read and written with process_vm_readv/process_vm_writev, which
/// honour page protections: an unmapped page, a PROT_NONE page, or (for writes) a read-only page
/// gives EFAULT, as copy_from_user/copy_to_user would (/proc/PID/mem would not: it writes through
/// protections when PROC_MEM_ALWAYS_FORCE is set). <see cref="Tid"/> is the thread whose
/// syscall is being served; any thread of the process sees the same memory.
/// </summary>
public sealed unsafe class ProcessMemory : IUserMemory
{
    /// <summary>The thread (or process) id whose memory is accessed.</summary>
    public int Tid { get; set; }

    /// <summary>The thread group of the current <see cref="Tid"/> (from /proc/TID/status), as a memory of its own.</summary>
    public IUserMemory OfThisMm() => new ProcessMemory { Tid = TgidOf(Tid) };

    private static int TgidOf(int tid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{tid}/status"))
                if (line.StartsWith("Tgid:", StringComparison.Ordinal) && int.TryParse(line.AsSpan(5).Trim(), out int tgid)) return tgid;
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return tid;
    }

    public int CopyFromUser(Span<byte> destination, ulong source)
    {
        if (destination.IsEmpty) return 0;
        if (!InUserRange(source, (ulong)destination.Length)) return Errno.EFAULT.Neg();
        fixed (byte* d = destination)
            return Transfer(SysNr.ProcessVmReadv, d, source, destination.Length);
    }

    public int CopyToUser(ulong destination, ReadOnlySpan<byte> source)
    {
        if (source.IsEmpty) return 0;
        if (!InUserRange(destination, (ulong)source.Length)) return Errno.EFAULT.Neg();
        fixed (byte* s = source)
            return Transfer(SysNr.ProcessVmWritev, s, destination, source.Length);
    }

    public int GetUser32(ulong addr, out uint value)
    {
        Span<byte> b = stackalloc byte[4];
        int rc = CopyFromUser(b, addr);
        value = rc == 0 ? BinaryPrimitives.ReadUInt32LittleEndian(b) : 0;
        return rc;
    }

    /// <summary>
    /// pin_user_pages as a check, from the target's <c>/proc/TID/maps</c>: 0 when the mappings cover
    /// the range without a hole and each has 'r' (and 'w' for a writable pin), else -EFAULT.
    /// </summary>
    public int CheckPinnable(ulong addr, ulong length, bool write)
    {
        if (length == 0) return 0;
        if (!InUserRange(addr, length)) return Errno.EFAULT.Neg();
        ulong end = addr + length, next = addr;
        try
        {
            foreach (var line in File.ReadLines($"/proc/{Tid}/maps"))
            {
                int dash = line.IndexOf('-'), space = line.IndexOf(' ');
                if (dash < 0 || space < dash || line.Length < space + 3) continue;
                ulong lo = ulong.Parse(line.AsSpan(0, dash), System.Globalization.NumberStyles.HexNumber);
                ulong hi = ulong.Parse(line.AsSpan(dash + 1, space - dash - 1), System.Globalization.NumberStyles.HexNumber);
                if (hi <= next) continue;
                if (lo > next) break;
                if (line[space + 1] != 'r' || (write && line[space + 2] != 'w')) break;
                next = hi;
                if (next >= end) return 0;
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        catch (FormatException) { }
        return Errno.EFAULT.Neg();
    }

    /// <summary>
    /// The file mapping holding <paramref name="addr"/>, from the target's <c>/proc/TID/maps</c>
    /// (start-end perms offset major:minor inode path): false for an unmapped address or a mapping
    /// with inode 0 (anonymous).
    /// </summary>
    public bool TryGetFileBacking(ulong addr, out FileIdentity file, out ulong offset)
    {
        file = default;
        offset = 0;
        try
        {
            foreach (var line in File.ReadLines($"/proc/{Tid}/maps"))
            {
                var f = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
                if (f.Length < 5) continue;
                int dash = f[0].IndexOf('-'), colon = f[3].IndexOf(':');
                if (dash < 0 || colon < 0) continue;
                var hex = System.Globalization.NumberStyles.HexNumber;
                ulong lo = ulong.Parse(f[0].AsSpan(0, dash), hex), hi = ulong.Parse(f[0].AsSpan(dash + 1), hex);
                if (addr < lo || addr >= hi) continue;
                ulong inode = ulong.Parse(f[4]);
                if (inode == 0) return false;
                file = new FileIdentity(uint.Parse(f[3].AsSpan(0, colon), hex), uint.Parse(f[3].AsSpan(colon + 1), hex), inode);
                offset = ulong.Parse(f[2], hex) + (addr - lo);
                return true;
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        catch (FormatException) { }
        catch (OverflowException) { }
        return false;
    }

    private int Transfer(int nr, byte* local, ulong remote, int length)
    {
        // struct iovec { void *iov_base; size_t iov_len; } for each side.
        ulong* liov = stackalloc ulong[2];
        ulong* riov = stackalloc ulong[2];
        int done = 0;
        while (done < length)
        {
            liov[0] = (ulong)(local + done);
            liov[1] = (ulong)(length - done);
            riov[0] = remote + (ulong)done;
            riov[1] = (ulong)(length - done);
            long n = Sys.Call(nr, Tid, (long)liov, 1, (long)riov, 1, 0);
            // A short transfer stops before the first page that faulted; the next round then
            // fails on it. 0 or an error (EFAULT, or ESRCH for a caller that died meanwhile)
            // ends the copy with EFAULT, the bytes before the fault copied.
            if (n <= 0) return Errno.EFAULT.Neg();
            done += (int)n;
        }
        return 0;
    }

    private static bool InUserRange(ulong addr, ulong len) => len <= AddressSpace.UserTop && addr <= AddressSpace.UserTop - len;
}
