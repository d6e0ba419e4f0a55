using System.Buffers.Binary;
using System.Security.Cryptography;
using TsmLab.Hardware;
using TsmLab.Platforms.Cca.Abi;
using TsmLab.Platforms.Cca.Firmware;
using TsmLab.Platforms.Cca.HostDriver;
using TsmLab.Tdisp.Device;
using TsmLab.Tdisp.Requester;

namespace TsmLab.Tests.Platforms.Cca;

/// <summary>RMI_PDEV_SET_PUBKEY and the PDEV state numbers of the pinned revision [TR1,TR2].</summary>
public sealed class CcaPdevKeyTests
{
    private static (CcaRmm Rmm, PhysicalMemory Mem, DeviceSecurityManager Dsm, ulong Pdev, RmmRelay Relay, ulong Prm) NeedsKey(byte hash = Rsi.HashSha256)
    {
        var mem = new PhysicalMemory(0x8_8000_0000);
        var dsm = DeviceSecurityManager.CreateDefault();
        var rmm = new CcaRmm(mem);
        var relay = new RmmRelay(rmm, mem, new TdispPciDevice(dsm).Mailbox);
        ulong prm = mem.Allocate(), pdev = mem.Allocate();
        var p = new byte[4096];
        BinaryPrimitives.WriteUInt64LittleEndian(p.AsSpan(Rmi.PdevParamsPdevId), 0x100);
        BinaryPrimitives.WriteUInt32LittleEndian(p.AsSpan(Rmi.PdevParamsRidBase), 0x100);
        BinaryPrimitives.WriteUInt32LittleEndian(p.AsSpan(Rmi.PdevParamsRidTop), 0x105);
        p[Rmi.PdevParamsHashAlgo] = hash;
        mem.Write(prm, p);
        Assert.Equal(RmiStatus.Success, RmmConnect.Call(rmm, Rmi.PdevCreate, out _, pdev, prm));
        Assert.Equal(RmiStatus.Success, relay.Communicate(Rmi.PdevCommunicate, pdev));
        return (rmm, mem, dsm, pdev, relay, prm);
    }

    [Fact]
    public void PdevStateNumbers_AreThePinnedOnes()
    {
        Assert.Equal(new ulong[] { 0, 1, 2, 3, 4, 5 },
            new[] { PdevState.New, PdevState.NeedsKey, PdevState.HasKey, PdevState.Ready, PdevState.Stopped, PdevState.Error }.Select(s => (ulong)s));
        Assert.Equal(0xC400017Bul, Rmi.PdevSetPubkey);
        Assert.Equal((0x10, 0x28, 0x30, 0x38), (Rmi.PdevParamsPdevId, Rmi.PdevParamsRidBase, Rmi.PdevParamsRidTop, Rmi.PdevParamsHashAlgo));
    }

    [Fact]
    public void SetPubkey_BadLengthsOrAlgorithm_AreErrorInput_TheWrongState_IsErrorDevice()
    {
        var (rmm, mem, dsm, pdev, _, prm) = NeedsKey();
        RmiStatus With(Action<byte[]> tweak)
        {
            RmmConnect.PubkeyParams(mem, prm, dsm);
            var k = new byte[4096];
            mem.Read(prm, k);
            tweak(k);
            mem.Write(prm, k);
            return RmmConnect.Call(rmm, Rmi.PdevSetPubkey, out _, pdev, prm);
        }
        Assert.Equal(RmiStatus.ErrorInput, With(k => BinaryPrimitives.WriteUInt64LittleEndian(k.AsSpan(Rmi.PubkeyKeyLen), 65)));   // P-384 key needs 97 bytes
        Assert.Equal(RmiStatus.ErrorInput, With(k => BinaryPrimitives.WriteUInt64LittleEndian(k.AsSpan(Rmi.PubkeyKeyLen), 1025))); // above key[1024]
        Assert.Equal(RmiStatus.ErrorInput, With(k => BinaryPrimitives.WriteUInt64LittleEndian(k.AsSpan(Rmi.PubkeyMetadataLen), 1025)));
        Assert.Equal(RmiStatus.ErrorInput, With(k => k[Rmi.PubkeyAlgo] = 3));
        Assert.Equal(RmiStatus.ErrorInput, RmmConnect.Call(rmm, Rmi.PdevSetPubkey, out _, pdev + 8, prm));
        Assert.Equal(RmiStatus.Success, With(_ => { }));
        Assert.Equal(RmiStatus.ErrorDevice, With(_ => { })); // HAS_KEY now, not NEEDS_KEY
    }

    [Fact]
    public void Sha384Pdev_IsAccepted_AndItsDigestsAreSha384ZeroPadded()
    {
        var (rmm, mem, dsm, pdev, relay, prm) = NeedsKey(Rsi.HashSha384);
        Assert.Equal(RmiStatus.Success, RmmConnect.Call(rmm, Rmi.PdevSetPubkey, out _, pdev, RmmConnect.PubkeyParams(mem, prm, dsm)));
        Assert.Equal(RmiStatus.Success, relay.Communicate(Rmi.PdevCommunicate, pdev));
        var d = new byte[64];
        HashAlgorithms.Digest(Rsi.HashSha384, "abc"u8, d);
        Assert.Equal(SHA384.HashData("abc"u8), d[..48]);
        Assert.Equal(new byte[16], d[48..]);
    }
}
