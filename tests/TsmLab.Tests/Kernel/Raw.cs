using TsmLab.Abi;
using TsmLab.Kernel;
using System.Buffers.Binary;

namespace TsmLab.Tests.Kernel;

/// <summary>Builds ioctl structs byte by byte in a process's memory, for tests that need bad input.</summary>
internal static class Raw
{
    public const ulong Buf = 0x10_0000;

    /// <summary>Maps 4 pages read-write at <see cref="Buf"/> (idempotent).</summary>
    public static void MapBuffer(Process p)
    {
        if (!p.Memory.IsAccessible(Buf, 4 * 4096, Prot.ReadWrite)) Assert.Equal(0, p.Memory.Map(Buf, 4 * 4096, Prot.ReadWrite));
    }

    /// <summary>Writes u32 values (then u64 pairs by caller) at Buf and issues the ioctl.</summary>
    public static long Ioctl(Process p, int fd, uint cmd, byte[] bytes, ulong at = Buf)
    {
        MapBuffer(p);
        Assert.Equal(0, p.Memory.CopyToUser(at, bytes));
        return p.Ioctl(fd, cmd, at);
    }

    public static byte[] Read(Process p, int length, ulong at = Buf)
    {
        var b = new byte[length];
        Assert.Equal(0, p.Memory.CopyFromUser(b, at));
        return b;
    }

    public static byte[] Struct(int size, params (int Offset, ulong Value, int Width)[] fields)
    {
        var b = new byte[size];
        BinaryPrimitives.WriteUInt32LittleEndian(b, (uint)size);
        foreach (var (off, v, w) in fields)
        {
            if (w == 8) BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(off), v); else BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(off), (uint)v);
        }
        return b;
    }

    public static (int, ulong, int) U32(int offset, ulong value) => (offset, value, 4);
    public static (int, ulong, int) U64(int offset, ulong value) => (offset, value, 8);

    public static int Neg(Errno e) => -(int)e;
}
