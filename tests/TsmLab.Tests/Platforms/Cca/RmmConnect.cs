using System.Buffers.Binary;
using TsmLab.Hardware;
using TsmLab.Kernel.Pci;
using TsmLab.Platforms.Cca.Abi;
using TsmLab.Platforms.Cca.Firmware;
using TsmLab.Tdisp.Device;
using TsmLab.Tdisp.Wire;

namespace TsmLab.Tests.Platforms.Cca;

/// <summary>
/// A test double of the host's side of COMMUNICATE: the RmiDevCommData granule and its request and
/// response buffers, the relay loop (REQ_SEND objects through the device's DOE mailbox, RESPONSE
/// back), the cached objects in the order they came, and an optional tamper of the next secured
/// object the host relays (a host that flips ciphertext).
/// </summary>
internal sealed class RmmRelay
{
    private const int BufferSize = 16 * 4096;
    private readonly CcaRmm rmm;
    private readonly PhysicalMemory mem;
    private readonly IDoeMailbox device;
    private CacheObject? assembling;
    private readonly List<byte> piece = [];

    public RmmRelay(CcaRmm rmm, PhysicalMemory mem, IDoeMailbox device)
    {
        this.rmm = rmm;
        this.mem = mem;
        this.device = device;
        Comm = mem.Allocate();
        Request = mem.Allocate(16);
        Response = mem.Allocate(16);
        var c = new byte[0x28];
        BinaryPrimitives.WriteUInt64LittleEndian(c.AsSpan(Rmi.CommEnterReqAddr), Request);
        BinaryPrimitives.WriteUInt64LittleEndian(c.AsSpan(Rmi.CommEnterRspAddr), Response);
        BinaryPrimitives.WriteUInt64LittleEndian(c.AsSpan(Rmi.CommEnterBufferSize), BufferSize);
        mem.Write(Comm, c);
    }

    public ulong Comm { get; }
    public ulong Request { get; }
    public ulong Response { get; }
    /// <summary>DOE objects relayed to the device, and their types in order.</summary>
    public List<byte> ObjectTypes { get; } = [];
    public Dictionary<CacheObject, byte[]> Cache { get; } = [];
    public List<CacheObject> Cached { get; } = [];
    /// <summary>XORed into a ciphertext byte of the next secured object relayed (0: none).</summary>
    public byte TamperNextSecured { get; set; }

    /// <summary>COMMUNICATE (fid with <paramref name="a"/>, the comm granule last) until the RMM has nothing left to send or hand over.</summary>
    public RmiStatus Communicate(ulong fid, params ulong[] a)
    {
        var comm = mem.At(Comm, 4096);
        comm[Rmi.CommEnterStatus] = Rmi.CommEnterStatusNone;
        for (int i = 0; i < 4096; i++)
        {
            var rc = RmmConnect.Call(rmm, fid, out _, [.. a, Comm]);
            comm[Rmi.CommEnterStatus] = Rmi.CommEnterStatusNone;
            if (rc is not (RmiStatus.Success or RmiStatus.Incomplete)) { Flush(); return rc; }
            ulong flags = BinaryPrimitives.ReadUInt64LittleEndian(comm[Rmi.CommExitFlags..]);
            if ((flags & Rmi.CommExitFlagRspCache) != 0)
            {
                var id = (CacheObject)BinaryPrimitives.ReadUInt64LittleEndian(comm[Rmi.CommExitObjId..]);
                if ((flags & Rmi.CommExitFlagRspReset) != 0) { Flush(); assembling = id; }
                int len = (int)BinaryPrimitives.ReadUInt64LittleEndian(comm[Rmi.CommExitRspCacheLen..]);
                piece.AddRange(mem.At(Response, len));
            }
            if ((flags & Rmi.CommExitFlagReqSend) != 0)
            {
                int reqLen = (int)BinaryPrimitives.ReadUInt64LittleEndian(comm[Rmi.CommExitReqLen..]);
                var req = mem.At(Request, reqLen);
                ObjectTypes.Add(req[2]);
                if (TamperNextSecured != 0 && req[2] == (byte)DoeObjectType.SecuredSpdm && reqLen > 16)
                {
                    req[16] ^= TamperNextSecured;
                    TamperNextSecured = 0;
                }
                int n = device.Exchange(req, mem.At(Response, BufferSize));
                comm[Rmi.CommEnterStatus] = n > 0 ? Rmi.CommEnterStatusResponse : Rmi.CommEnterStatusError;
                BinaryPrimitives.WriteUInt64LittleEndian(comm[Rmi.CommEnterRspLen..], (ulong)Math.Max(n, 0));
                continue;
            }
            if (rc == RmiStatus.Success) { Flush(); return rc; }
        }
        return RmiStatus.ErrorDevice;
    }

    private void Flush()
    {
        if (assembling is { } id) { Cache[id] = [.. piece]; Cached.Add(id); }
        assembling = null;
        piece.Clear();
    }
}

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
    public static void ToReady(CcaRmm rmm, PhysicalMemory mem, ulong pdev, RmmRelay relay, ulong scratchPage, DeviceSecurityManager dsm)
    {
        Assert.Equal(RmiStatus.Success, relay.Communicate(Rmi.PdevCommunicate, pdev));
        Assert.Equal(RmiStatus.Success, Call(rmm, Rmi.PdevGetState, out ulong state, pdev));
        Assert.Equal((ulong)PdevState.NeedsKey, state);
        Assert.Equal(RmiStatus.Success, Call(rmm, Rmi.PdevSetPubkey, out _, pdev, PubkeyParams(mem, scratchPage, dsm)));
        Assert.Equal(RmiStatus.Success, relay.Communicate(Rmi.PdevCommunicate, pdev));
        Call(rmm, Rmi.PdevGetState, out state, pdev);
        Assert.Equal((ulong)PdevState.Ready, state);
    }
}
