using TsmLab.Kernel;
using static TsmLab.Tests.Kernel.Raw;
using TsmLab.Abi;

namespace TsmLab.Tests.Kernel;

public class AddressSpaceTests
{
    private const ulong A = 0x7f00_0000_0000;

    [Fact]
    public void Map_UnalignedAddress_ReturnsEinval() => Assert.Equal(Neg(Errno.EINVAL), new AddressSpace().Map(A + 1, 4096, Prot.ReadWrite));

    [Fact]
    public void Map_ZeroLength_ReturnsEinval() => Assert.Equal(Neg(Errno.EINVAL), new AddressSpace().Map(A, 0, Prot.ReadWrite));

    [Fact]
    public void Map_BeyondTaskSize_ReturnsEnomem() => Assert.Equal(Neg(Errno.ENOMEM), new AddressSpace().Map(AddressSpace.UserTop, 4096, Prot.ReadWrite));

    [Fact]
    public void CopyFromUser_Unmapped_ReturnsEfault()
    {
        var m = new AddressSpace();
        Assert.Equal(Neg(Errno.EFAULT), m.CopyFromUser(new byte[4], A));
    }

    [Fact]
    public void CopyFromUser_RangeRunningOffMapping_ReturnsEfault()
    {
        var m = new AddressSpace();
        m.Map(A, 4096, Prot.ReadWrite);
        Assert.Equal(0, m.CopyFromUser(new byte[8], A + 4088));
        Assert.Equal(Neg(Errno.EFAULT), m.CopyFromUser(new byte[9], A + 4088));
    }

    [Fact]
    public void CopyFromUser_ProtNone_ReturnsEfault()
    {
        var m = new AddressSpace();
        m.Map(A, 4096, Prot.None);
        Assert.Equal(Neg(Errno.EFAULT), m.CopyFromUser(new byte[1], A));
    }

    [Fact]
    public void CopyToUser_ReadOnly_ReturnsEfaultAndLeavesPageUnchanged()
    {
        var m = new AddressSpace();
        m.Map(A, 4096, Prot.ReadWrite);
        Assert.Equal(0, m.Protect(A, 4096, Prot.Read));
        Assert.Equal(Neg(Errno.EFAULT), m.CopyToUser(A, new byte[] { 1 }));
        var b = new byte[1];
        Assert.Equal(0, m.CopyFromUser(b, A));
        Assert.Equal(0, b[0]);
    }

    [Fact]
    public void CopyToUser_FaultOnSecondPage_WritesBytesBeforeTheFault()
    {
        var m = new AddressSpace();
        m.Map(A, 8192, Prot.ReadWrite);
        m.Protect(A + 4096, 4096, Prot.Read);
        Assert.Equal(Neg(Errno.EFAULT), m.CopyToUser(A + 4094, new byte[] { 7, 8, 9, 10 }));
        var b = new byte[4];
        m.CopyFromUser(b, A + 4094);
        Assert.Equal(new byte[] { 7, 8, 0, 0 }, b);
    }

    [Fact]
    public void Copy_AddressOverflowingTaskSize_ReturnsEfault()
    {
        var m = new AddressSpace();
        Assert.Equal(Neg(Errno.EFAULT), m.CopyFromUser(new byte[16], ulong.MaxValue - 4));
    }

    [Fact]
    public void Protect_PartlyUnmapped_ReturnsEnomemAndChangesNothing()
    {
        var m = new AddressSpace();
        m.Map(A, 4096, Prot.ReadWrite);
        Assert.Equal(Neg(Errno.ENOMEM), m.Protect(A, 8192, Prot.Read));
        Assert.Equal(0, m.CopyToUser(A, new byte[] { 1 }));
    }

    [Fact]
    public void Map_OverExistingMapping_ReplacesWithZeroes()
    {
        var m = new AddressSpace();
        m.Map(A, 4096, Prot.ReadWrite);
        m.CopyToUser(A, new byte[] { 5 });
        m.Map(A, 4096, Prot.ReadWrite);
        var b = new byte[1];
        m.CopyFromUser(b, A);
        Assert.Equal(0, b[0]);
    }
}
