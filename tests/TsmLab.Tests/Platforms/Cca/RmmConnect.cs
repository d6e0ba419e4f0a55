using System.Buffers.Binary;
using TsmLab.Hardware;
using TsmLab.Platforms.Cca.Abi;
using TsmLab.Platforms.Cca.Firmware;
using TsmLab.Tdisp.Device;

namespace TsmLab.Tests.Platforms.Cca;

/// <summary>Drives a PDEV the way the pinned RMM revision wants it connected [TR2]: COMMUNICATE to NEEDS_KEY, SET_PUBKEY, COMMUNICATE to READY.</summary>
internal static class RmmConnect
{
    /// <summary>One SMC to the RMM.</summary>
    public static RmiStatus Call(CcaRmm rmm, ulong fid, out ulong x1, params ulong[] a)
    {
        Span<ulong> x = stackalloc ulong[8];
        x[0] = fid;
        a.CopyTo(x[1..]);
        rmm.Rmi(x);
        x1 = x[1];
        return (RmiStatus)x[0];
    }

    /// <summary>COMMUNICATE until the RMM has handed over every object piece.</summary>
    public static RmiStatus Communicate(CcaRmm rmm, ulong pdev, ulong comm)
    {
        RmiStatus rc;
        while ((rc = Call(rmm, Rmi.PdevCommunicate, out _, pdev, comm)) == RmiStatus.Incomplete) { }
        return rc;
    }

    /// <summary>Writes rmi_public_key_params for the device's leaf key into <paramref name="paramsPa"/>.</summary>
    public static ulong PubkeyParams(PhysicalMemory mem, ulong paramsPa, DeviceSecurityManager dsm)
    {
        Assert.True(DevicePublicKey.TryEncode(dsm.Identity.LeafCertificate, out var key, out byte algo));
        var k = new byte[4096];
        key.CopyTo(k, Rmi.PubkeyKey);
        BinaryPrimitives.WriteUInt64LittleEndian(k.AsSpan(Rmi.PubkeyKeyLen), (ulong)key.Length);
        k[Rmi.PubkeyAlgo] = algo;
        mem.Write(paramsPa, k);
        return paramsPa;
    }

    /// <summary>From NEW to READY; asserts every step.</summary>
    public static void ToReady(CcaRmm rmm, PhysicalMemory mem, ulong pdev, ulong comm, ulong scratchPage, DeviceSecurityManager dsm)
    {
        Assert.Equal(RmiStatus.Success, Communicate(rmm, pdev, comm));
        Assert.Equal(RmiStatus.Success, Call(rmm, Rmi.PdevGetState, out ulong state, pdev));
        Assert.Equal((ulong)PdevState.NeedsKey, state);
        Assert.Equal(RmiStatus.Success, Call(rmm, Rmi.PdevSetPubkey, out _, pdev, PubkeyParams(mem, scratchPage, dsm)));
        Assert.Equal(RmiStatus.Success, Communicate(rmm, pdev, comm));
        Call(rmm, Rmi.PdevGetState, out state, pdev);
        Assert.Equal((ulong)PdevState.Ready, state);
    }
}
