using CsCheck;
using TsmLab.Hardware;

namespace TsmLab.Tests.Hardware;

/// <summary>SparsePageMap behaves exactly as a dictionary keyed by page, whatever the sequence of sets and removes.</summary>
public class SparsePageMapTests
{
    [Fact]
    public void SetGetRemove_AnyAddressInThePage_NamesThePage()
    {
        var m = new SparsePageMap<ulong>();
        m.Set(0x4000_0000_1000, 7);
        Assert.True(m.TryGetValue(0x4000_0000_1FFF, out ulong v));
        Assert.Equal(7ul, v);
        Assert.False(m.ContainsKey(0x4000_0000_2000));
        Assert.Equal(1, m.Count);
        Assert.True(m.Remove(0x4000_0000_1000));
        Assert.False(m.Remove(0x4000_0000_1000));
        Assert.Equal(0, m.Count);
        Assert.False(m.TryGetBounds(out _, out _));
    }

    [Fact]
    public void RandomOperations_MatchADictionary()
    {
        Gen.Select(Gen.Int[0, 2], Gen.ULong[0, 3000], Gen.ULong).Array[1, 400].Sample(ops =>
        {
            var m = new SparsePageMap<ulong>();
            var d = new Dictionary<ulong, ulong>();
            foreach (var (op, page, value) in ops)
            {
                ulong addr = (page << 12) | (value & 0xFFF);
                switch (op)
                {
                    case 0: m.Set(addr, value); d[page] = value; break;
                    case 1: Assert.Equal(d.Remove(page), m.Remove(addr)); break;
                    default:
                        Assert.Equal(d.TryGetValue(page, out ulong want), m.TryGetValue(addr, out ulong got));
                        Assert.Equal(want, got);
                        break;
                }
                Assert.Equal(d.Count, m.Count);
            }
            Assert.Equal(d.OrderBy(e => e.Key).Select(e => (e.Key << 12, e.Value)), m.Entries().OrderBy(e => e.Address).Select(e => (e.Address, e.Value)));
            if (d.Count > 0)
            {
                Assert.True(m.TryGetBounds(out ulong lo, out ulong hi));
                Assert.Equal(d.Keys.Min() << 12, lo);
                Assert.Equal(d.Keys.Max() << 12, hi);
            }
        });
    }
}
