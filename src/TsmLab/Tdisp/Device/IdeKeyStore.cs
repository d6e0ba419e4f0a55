namespace TsmLab.Tdisp.Device;

using TsmLab.Tdisp.Wire;

/// <summary>Key slots of every IDE stream the device supports [D4].</summary>
/// <remarks>
/// The device's IDE key slots [D4] (§5.8): per selective stream, per direction (RX/TX), per
/// sub-stream (PR/NPR/CPL), two key sets (K0/K1). KEY_PROG fills a slot; K_SET_GO makes a
/// programmed key set the active one for its (direction, sub-stream); K_SET_STOP deactivates it.
/// </remarks>
public sealed class IdeKeyStore
{
    private const int SlotBytes = IdeKmStreamMessage.KeySize + IdeKmStreamMessage.IfvSize;
    private readonly byte[] streamIds;
    // [stream][direction * 3 + substream][keyset]
    private readonly bool[] programmed;
    private readonly sbyte[] active;
    private readonly byte[] keys;

    public IdeKeyStore(IReadOnlyList<byte> streamIds)
    {
        this.streamIds = [.. streamIds];
        programmed = new bool[this.streamIds.Length * 12];
        active = new sbyte[this.streamIds.Length * 6];
        active.AsSpan().Fill(-1);
        keys = new byte[this.streamIds.Length * 12 * SlotBytes];
    }

    public IReadOnlyList<byte> StreamIds => streamIds;

    public bool HasStream(byte streamId) => IndexOf(streamId) >= 0;

    /// <summary>Whether the key set <paramref name="keySet"/> of the slot holds a programmed key.</summary>
    public bool IsProgrammed(byte streamId, IdeKeyDirection direction, IdeSubStream subStream, int keySet)
    {
        int s = IndexOf(streamId);
        return s >= 0 && programmed[SlotIndex(s, direction, subStream, keySet)];
    }

    /// <summary>The active key set (0/1) of a (direction, sub-stream), or -1 when stopped.</summary>
    public int ActiveKeySet(byte streamId, IdeKeyDirection direction, IdeSubStream subStream)
    {
        int s = IndexOf(streamId);
        return s < 0 ? -1 : active[s * 6 + (int)direction * 3 + (int)subStream];
    }

    /// <summary>True when every direction and sub-stream of the stream has a programmed, started key set.</summary>
    public bool IsStreamReady(byte streamId)
    {
        int s = IndexOf(streamId);
        if (s < 0)
            return false;
        for (int d = 0; d < 2; d++)
            for (int ss = 0; ss < 3; ss++)
                if (active[s * 6 + d * 3 + ss] < 0)
                    return false;
        return true;
    }

    /// <summary>The key and IFV programmed into a slot (48 bytes), for tests and tracing.</summary>
    public ReadOnlySpan<byte> GetKeyMaterial(byte streamId, IdeKeySubStream slot)
    {
        int s = IndexOf(streamId);
        return s < 0 ? default : keys.AsSpan(SlotIndex(s, slot.Direction, slot.SubStream, slot.KeySet) * SlotBytes, SlotBytes);
    }

    internal void Program(byte streamId, IdeKeySubStream slot, ReadOnlySpan<byte> key, ReadOnlySpan<byte> ifv)
    {
        int s = IndexOf(streamId);
        int i = SlotIndex(s, slot.Direction, slot.SubStream, slot.KeySet);
        key.CopyTo(keys.AsSpan(i * SlotBytes));
        ifv.CopyTo(keys.AsSpan(i * SlotBytes + IdeKmStreamMessage.KeySize));
        programmed[i] = true;
    }

    /// <summary>Starts the key set; a set never programmed is not started (the ack is still sent).</summary>
    internal void Go(byte streamId, IdeKeySubStream slot)
    {
        int s = IndexOf(streamId);
        if (programmed[SlotIndex(s, slot.Direction, slot.SubStream, slot.KeySet)])
            active[s * 6 + (int)slot.Direction * 3 + (int)slot.SubStream] = (sbyte)slot.KeySet;
    }

    /// <summary>Stops the (direction, sub-stream) if the named key set is the active one.</summary>
    internal void Stop(byte streamId, IdeKeySubStream slot)
    {
        int s = IndexOf(streamId);
        int a = s * 6 + (int)slot.Direction * 3 + (int)slot.SubStream;
        if (active[a] == slot.KeySet)
            active[a] = -1;
    }

    private int IndexOf(byte streamId)
    {
        for (int i = 0; i < streamIds.Length; i++)
            if (streamIds[i] == streamId)
                return i;
        return -1;
    }

    private static int SlotIndex(int stream, IdeKeyDirection d, IdeSubStream ss, int keySet) => stream * 12 + ((int)d * 3 + (int)ss) * 2 + keySet;
}
