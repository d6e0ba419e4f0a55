using TsmLab.Kernel;

namespace TsmLab.Run;

/// <summary>
/// An open sysfs attribute of the model under <c>tsmlab run --trap-rw</c> (kernfs_open_file):
/// its path, the access mode it was opened with, and the file position that read(2) advances
/// (shared by every dup and fork copy, as a struct file's is). The text is taken from the
/// attribute's show() at a read from position 0, as seq_file does; a write is one store() call.
/// </summary>
internal sealed class SysfsAttributeFile(string path, bool readable, bool writable) : KernelFile
{
    public override string Name => path;
    public string Path => path;
    public bool Readable => readable;
    public bool Writable => writable;

    /// <summary>The file position (f_pos).</summary>
    public long Position { get; set; }

    /// <summary>The text of the last show(), or null before the first read.</summary>
    public byte[]? Text { get; set; }
}
