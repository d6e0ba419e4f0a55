namespace TsmLab.Abi;

/// <summary>
/// The generic ioctl number encoding of include/uapi/asm-generic/ioctl.h (x86-64 and arm64):
/// nr bits 0-7, type bits 8-15, size bits 16-29, direction bits 30-31.
/// </summary>
public static class IoctlEncoding
{
    public const uint DirNone = 0, DirWrite = 1, DirRead = 2;

    public static uint Io(uint type, uint nr) => Ioc(DirNone, type, nr, 0);
    public static uint Iow(uint type, uint nr, uint size) => Ioc(DirWrite, type, nr, size);
    public static uint Iowr(uint type, uint nr, uint size) => Ioc(DirRead | DirWrite, type, nr, size);
    public static uint Ioc(uint dir, uint type, uint nr, uint size) => (dir << 30) | (size << 16) | (type << 8) | nr;

    /// <summary>_IOC_NR.</summary>
    public static uint Nr(uint cmd) => cmd & 0xFF;
    /// <summary>_IOC_TYPE.</summary>
    public static uint Type(uint cmd) => (cmd >> 8) & 0xFF;
}
