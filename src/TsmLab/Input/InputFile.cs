using System.Runtime.InteropServices;

namespace TsmLab.Input;

/// <summary>
/// The one way TsmLab opens a file named by a user (a replay script, a host file, a device file):
/// only a regular file is read — a directory, a character or block device, a FIFO or a socket is
/// refused by name before it is opened (so <c>/dev/zero</c> or a FIFO never blocks or streams
/// forever) — and a whole-file read stops at a size cap. Every problem is an
/// <see cref="InputFileException"/> whose message names the file and what is wrong.
/// </summary>
public static class InputFile
{
    /// <summary>The cap on a host or device file (they are a few KiB).</summary>
    public const int MaxConfigurationBytes = 1 << 20;

    /// <summary>Reads a whole regular file of at most <paramref name="maxBytes"/> bytes. <paramref name="what"/> names it ("device file").</summary>
    public static byte[] ReadAllBytes(string path, string what, int maxBytes = MaxConfigurationBytes)
    {
        using var stream = OpenRegular(path, what);
        var buffer = new byte[Math.Min(maxBytes, 64 * 1024) + 1];
        int total = 0;
        try
        {
            while (true)
            {
                if (total == buffer.Length)
                {
                    if (total > maxBytes) break;
                    Array.Resize(ref buffer, (int)Math.Min((long)maxBytes + 1, buffer.Length * 2L));
                }
                int n = stream.Read(buffer, total, buffer.Length - total);
                if (n == 0) break;
                total += n;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InputFileException($"cannot read {what} '{Printable.Of(path)}': {Reason(e)}");
        }
        if (total > maxBytes) throw new InputFileException($"{what} '{Printable.Of(path)}' is larger than {Size(maxBytes)}");
        return buffer.AsSpan(0, total).ToArray();
    }

    /// <summary>Opens a regular file for reading, refusing anything else by name.</summary>
    public static FileStream OpenRegular(string path, string what)
    {
        if (path.Length == 0) throw new InputFileException($"cannot read {what} '': empty file name");
        if (path.Contains('\0')) throw new InputFileException($"cannot read {what} '{Printable.Of(path)}': the name contains a NUL byte");
        string? kind = FileKind.Describe(path);
        if (kind is not null) throw new InputFileException($"cannot read {what} '{Printable.Of(path)}': {kind}");
        try
        {
            var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 4096, FileOptions.SequentialScan);
            // The name may have been replaced between the check and the open: check what was opened.
            string? opened = FileKind.Describe(stream);
            if (opened is not null)
            {
                stream.Dispose();
                throw new InputFileException($"cannot read {what} '{Printable.Of(path)}': {opened}");
            }
            return stream;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new InputFileException($"cannot read {what} '{Printable.Of(path)}': {Reason(e)}");
        }
    }

    private static string Reason(Exception e) => e switch
    {
        FileNotFoundException or DirectoryNotFoundException => "no such file",
        UnauthorizedAccessException => "permission denied",
        PathTooLongException => "the name is too long",
        _ => e.Message.TrimEnd('.'),
    };

    private static string Size(int bytes) => bytes % (1 << 20) == 0 ? $"{bytes >> 20} MiB" : $"{bytes} bytes";
}

/// <summary>A file that cannot be used as input; the message names the file and the problem.</summary>
public sealed class InputFileException(string message) : IOException(message);

/// <summary>
/// What kind of file a path or an open file is, from <c>statx(2)</c>'s <c>stx_mode</c> (a layout
/// that is the same on every Linux architecture). Null means a regular file, a missing one (the
/// open reports that), or a system where the call is unavailable.
/// </summary>
internal static partial class FileKind
{
    private const int AtFdCwd = -100;
    private const int AtEmptyPath = 0x1000;
    private const uint StatxType = 0x1;
    private const int ModeOffset = 28;

    public static string? Describe(string path) => OperatingSystem.IsLinux() ? Describe(AtFdCwd, path, 0) : ManagedDescribe(path);

    public static string? Describe(FileStream stream)
    {
        if (!OperatingSystem.IsLinux()) return null;
        bool added = false;
        try
        {
            stream.SafeFileHandle.DangerousAddRef(ref added);
            return Describe((int)stream.SafeFileHandle.DangerousGetHandle(), "", AtEmptyPath);
        }
        finally
        {
            if (added) stream.SafeFileHandle.DangerousRelease();
        }
    }

    private static string? Describe(int dirfd, string path, int flags)
    {
        var buf = new byte[256];
        try
        {
            if (Statx(dirfd, path, flags, StatxType, buf) != 0) return null;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return path.Length == 0 ? null : ManagedDescribe(path);
        }
        return (BitConverter.ToUInt16(buf, ModeOffset) & 0xF000) switch
        {
            0x8000 => null,
            0x4000 => "is a directory",
            0x2000 => "is a character device, not a regular file",
            0x6000 => "is a block device, not a regular file",
            0x1000 => "is a FIFO, not a regular file",
            0xC000 => "is a socket, not a regular file",
            _ => "is not a regular file",
        };
    }

    private static string? ManagedDescribe(string path) => Directory.Exists(path) ? "is a directory" : null;

    [DllImport("libc", EntryPoint = "statx", SetLastError = true)]
    private static extern int Statx(int dirfd, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, byte[] buffer);
}
