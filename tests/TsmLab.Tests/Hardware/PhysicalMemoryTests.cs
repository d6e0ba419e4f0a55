using TsmLab.Hardware;

namespace TsmLab.Tests.Hardware;

/// <summary>The machine's physical memory: contiguous regions with a guard page after each, addressed by firmware.</summary>
public sealed class PhysicalMemoryTests
{
    [Fact]
    public void Regions_AreContiguousInside_AndAnAccessRunningOffOneFails()
    {
        var m = new PhysicalMemory(0x1_0000_0000);
        ulong a = m.Allocate(2), b = m.Allocate();
        Assert.Equal(0x1_0000_0000ul, a);
        Assert.Equal(a + 3 * PhysicalMemory.PageSize, b); // a guard page between them
        Assert.True(m.Write(a + 4000, new byte[200])); // across the two pages of one region
        Assert.False(m.Write(a + 2 * 4096 - 8, new byte[16])); // off the end: nothing written
        Assert.False(m.TryGet(a + 2 * 4096, 1, out _)); // the guard page
        Assert.True(m.TryPage(b, out var page));
        Assert.Equal(4096, page.Length);
        Assert.False(m.TryPage(a + 8, out _));
        m.Free(b);
        Assert.False(m.TryPage(b, out _));
        Assert.Throws<ArgumentOutOfRangeException>(() => m.At(b, 1));
    }

    [Fact]
    public void Lookups_AtTheEdgesOfTheAddressSpace_NeitherWrapNorThrow()
    {
        var m = new PhysicalMemory(0x8_8000_0000);
        m.Allocate();
        Assert.False(m.TryGet(ulong.MaxValue, 1, out _));
        Assert.False(m.TryGet(0, 16, out _));
        Assert.False(m.TryGet(0x8_8000_0000, -1, out _));
        Assert.False(m.Read(0x8_8000_0000 + 4095, new byte[2]));
    }
}
