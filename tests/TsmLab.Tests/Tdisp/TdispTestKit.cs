using TsmLab.Tdisp.Device;
using TsmLab.Tdisp.Requester;
using TsmLab.Tdisp.Wire;

namespace TsmLab.Tests.Tdisp;

/// <summary>
/// Shared helpers for the TDISP tests: hand-built request bytes, a device with reproducible nonces,
/// and drivers that put a TDI into each state of §5.6.
/// </summary>
internal sealed class FailingEntropySource : ITdispEntropySource
{
    public bool Fail { get; set; } = true;
    public bool TryFill(Span<byte> destination) => !Fail && new DeterministicEntropySource(1).TryFill(destination);
}

internal static class TdispTestKit
{
    public static readonly TdiFunctionId Pf = TdiFunctionId.FromRid(0x0100);
    public static readonly TdiFunctionId Vf0 = TdiFunctionId.FromRid(0x0101);

    public static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal).Replace("_", "", StringComparison.Ordinal));
    public static string ToHex(ReadOnlySpan<byte> b) => Convert.ToHexStringLower(b);

    /// <summary>A TDISP message: header for <paramref name="code"/> naming function 0x0100, then <paramref name="payloadHex"/>.</summary>
    public static byte[] Msg(byte code, string payloadHex = "", uint functionId = 0x0100, byte version = 0x10)
    {
        var m = new byte[16];
        m[0] = version;
        m[1] = code;
        BitConverter.TryWriteBytes(m.AsSpan(4), functionId);
        return [.. m, .. Hex(payloadHex)];
    }

    public static DeviceSecurityManager NewDevice(DeviceConfiguration? config = null, ITdispEntropySource? entropy = null) =>
        new(config ?? DeviceConfiguration.Default, entropy ?? new DeterministicEntropySource(42));

    /// <summary>Sends one TDISP message (without protocol byte) and returns the response message (without protocol byte).</summary>
    public static byte[] Send(DeviceSecurityManager dsm, byte[] message)
    {
        var rsp = new byte[dsm.MaxResponseSize];
        int n = dsm.Respond([(byte)VdmProtocolId.Tdisp, .. message], rsp);
        Assert.True(n > 1);
        Assert.Equal((byte)VdmProtocolId.Tdisp, rsp[0]);
        return rsp[1..n];
    }

    /// <summary>Sends an IDE_KM message; returns its answer without the protocol byte, or null for no answer.</summary>
    public static byte[]? SendIde(DeviceSecurityManager dsm, byte[] message)
    {
        var rsp = new byte[dsm.MaxResponseSize];
        int n = dsm.Respond([(byte)VdmProtocolId.IdeKm, .. message], rsp);
        return n == 0 ? null : rsp[1..n];
    }

    public static (TdispErrorCode Code, uint Data) ErrorOf(byte[] response)
    {
        Assert.True(TdispErrorResponse.TryRead(response, out var e), $"expected TDISP_ERROR, got {ToHex(response)}");
        return (e.ErrorCode, e.ErrorData);
    }

    public static void AssertError(byte[] response, TdispErrorCode code, uint data = 0)
    {
        var (c, d) = ErrorOf(response);
        Assert.Equal(code, c);
        Assert.Equal(data, d);
    }

    public static byte[] KeyMaterial(IdeKeySubStream slot) => [.. Enumerable.Range(0, 40).Select(i => (byte)(i ^ slot.Value))];

    public static TdispRequester Requester(DeviceSecurityManager dsm) => new(new DirectTransport(dsm));

    public static void ProgramKeys(DeviceSecurityManager dsm, byte stream = 0) =>
        Assert.True(Requester(dsm).ProgramAndStartStream(stream, 0, 0, KeyMaterial));

    public static byte[] LockMessage(ushort flags = 0x0004, byte stream = 0, ulong offset = 0, uint functionId = 0x0100)
    {
        var b = new byte[LockInterfaceRequest.Size];
        LockInterfaceRequest.Write(b, new TdiFunctionId(functionId), new LockInterfaceParameters((LockInterfaceFlags)flags, stream, offset));
        return b;
    }

    /// <summary>Drives the PF TDI of <paramref name="dsm"/> into <paramref name="state"/>; returns the lock nonce (if locked).</summary>
    public static byte[] DriveTo(DeviceSecurityManager dsm, TdiState state, TdiFunctionId? id = null, ushort flags = 0x0004)
    {
        var fid = id ?? Pf;
        var tdi = dsm.FindInterface(fid)!;
        byte[] nonce = [];
        if (state == TdiState.ConfigUnlocked)
            return nonce;
        if (!dsm.IdeKeys.IsStreamReady(0))
            ProgramKeys(dsm);
        var rsp = Send(dsm, LockMessage(flags, functionId: fid.Value));
        Assert.True(LockInterfaceResponse.TryRead(rsp, out var l), ToHex(rsp));
        nonce = l.StartInterfaceNonce.ToArray();
        if (state == TdiState.Run)
        {
            var start = new byte[StartInterfaceRequest.Size];
            StartInterfaceRequest.Write(start, fid, nonce);
            Assert.True(HeaderOnlyMessage.TryRead(Send(dsm, start), (byte)TdispResponseCode.StartInterface, out _));
        }
        if (state == TdiState.Error)
            tdi.FunctionLevelReset();
        Assert.Equal(state, tdi.State);
        return nonce;
    }
}
