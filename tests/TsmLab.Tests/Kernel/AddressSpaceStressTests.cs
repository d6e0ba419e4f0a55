using TsmLab.Kernel;


namespace TsmLab.Tests.Kernel;

/// <summary>Threads of one process map, unmap, protect and copy at once: every copy completes or faults (EFAULT), nothing else, and the address space ends empty.</summary>
public class AddressSpaceStressTests
{
    [Fact]
    public void ConcurrentMapUnmapProtectCopy_CopiesCompleteOrFault_AndUnmapLeavesNothing()
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
                    // No check that the page holds one value: as on Linux, a copy_from_user racing a
                    // copy_to_user of the same page on another thread may see some bytes of each.
                }
            }));
        Assert.Equal(0, m.Unmap(0, AddressSpace.UserTop));
        Assert.Equal(0, m.ResidentPages);
        Assert.Equal(0, m.MappingCount);
    }
}
