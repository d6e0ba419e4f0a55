namespace TsmLab.Linux;

internal static unsafe partial class Sys
{
    /// <summary>Offset of <c>st_mode</c> (u32) in x86-64's <c>struct stat</c>.</summary>
    private const int StatModeOffset = 24;

    /// <summary>newfstatat(AT_FDCWD, path, …, 0): the path's <c>st_mode</c> (following links); 0 or -errno.</summary>
    public static long StatMode(string path, out uint mode)
    {
        Span<byte> p = stackalloc byte[PathBytes(path)];
        WritePath(path, p);
        Span<byte> st = stackalloc byte[LinuxConst.StatSize];
        long rc;
        fixed (byte* pp = p)
        fixed (byte* sp = st)
            rc = Call(SysNr.Newfstatat, LinuxConst.AtFdcwd, (long)pp, (long)sp, 0);
        mode = rc == 0 ? BitConverter.ToUInt32(st[StatModeOffset..]) : 0;
        return rc;
    }

    /// <summary>fstat: an open descriptor's <c>st_mode</c>; 0 or -errno.</summary>
    public static long FstatMode(int fd, out uint mode)
    {
        Span<byte> st = stackalloc byte[LinuxConst.StatSize];
        long rc;
        fixed (byte* sp = st) rc = Call(SysNr.Fstat, fd, (long)sp);
        mode = rc == 0 ? BitConverter.ToUInt32(st[StatModeOffset..]) : 0;
        return rc;
    }
}
