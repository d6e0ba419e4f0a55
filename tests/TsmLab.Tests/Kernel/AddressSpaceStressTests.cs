using TsmLab.Kernel;


namespace TsmLab.Tests.Kernel;

/// <summary>Threads of one process map, unmap, protect and copy at once: every copy sees a whole mapping or faults.</summary>
public class AddressSpaceStressTests
{
    [Fact]
    public void ConcurrentMapUnmapProtectCopy_NeverTearsAPage()
    {
        var m = new AddressSpace();
        const ulong region = 0x7000_0000_0000;
        const int pages = 64;
        Watchdog.Run(TimeSpan.FromMilliseconds(600), TimeSpan.FromSeconds(10),
            ("mapper", w =>
            {
                while (!w.Stopping)
                {
                    ulong at = region + (ulong)w.Random.Next(pages) * 4096;
                    ulong len = (ulong)w.Random.Next(1, 8) * 4096;
                    w.Step("mmap/munmap/mprotect");
                    int rc = w.Random.Next(3) switch
                    {
                        0 => m.Map(at, len, Prot.ReadWrite),
                        1 => m.Unmap(at, len),
                        _ => m.Protect(at, len, w.Random.Next(2) == 0 ? Prot.Read : Prot.ReadWrite),
                    };
                    Assert.True(rc is 0 or -12, $"rc {rc}");
                }
            }),
            ("writer", w =>
            {
                var pattern = new byte[4096];
                while (!w.Stopping)
                {
                    byte b = (byte)w.Random.Next(1, 256);
                    Array.Fill(pattern, b);
                    w.Step("copy_to_user page");
                    int rc = m.CopyToUser(region + (ulong)w.Random.Next(pages) * 4096, pattern);
                    Assert.True(rc is 0 or -14);
                }
            }),
            ("reader", w =>
            {
                var page = new byte[4096];
                while (!w.Stopping)
                {
                    w.Step("copy_from_user page");
                    int rc = m.CopyFromUser(page, region + (ulong)w.Random.Next(pages) * 4096);
                    Assert.True(rc is 0 or -14);
                    // A page is written whole under the lock: it holds one value throughout.
                    if (rc == 0) Assert.True(page.AsSpan().IndexOfAnyExcept(page[0]) < 0, "torn page");
                }
            }));
        Assert.Equal(0, m.Unmap(0, AddressSpace.UserTop));
        Assert.Equal(0, m.ResidentPages);
        Assert.Equal(0, m.MappingCount);
    }
}
