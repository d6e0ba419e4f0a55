// The device's IDE key slots [D4] (§5.8): per selective stream, per direction (RX/TX), per
// sub-stream (PR/NPR/CPL), two key sets (K0/K1). KEY_PROG fills a slot; K_SET_GO makes a
// programmed key set the active one for its (direction, sub-stream); K_SET_STOP deactivates it.
namespace TsmLab.Tdisp.Device;

using TsmLab.Tdisp.Wire;

/// <summary>Key slots of every IDE stream the device supports [D4].</summary>
public sealed class IdeKeyStore
{
    private const int SlotBytes = IdeKmStreamMessage.KeySize + IdeKmStreamMessage.IfvSize;
    private readonly byte[] _streamIds;
    // [stream][direction * 3 + substream][keyset]
    private readonly bool[] _programmed;
    private readonly sbyte[] _active;
    private readonly byte[] _keys;

    public IdeKeyStore(IReadOnlyList<byte> streamIds)
    {
        _streamIds = [.. streamIds];
        _programmed = new bool[_streamIds.Length * 12];
        _active = new sbyte[_streamIds.Length * 6];
        _active.AsSpan().Fill(-1);
        _keys = new byte[_streamIds.Length * 12 * SlotBytes];
    }

    public IReadOnlyList<byte> StreamIds => _streamIds;

    public bool HasStream(byte streamId) => IndexOf(streamId) >= 0;

    /// <summary>Whether the key set <paramref name="keySet"/> of the slot holds a programmed key.</summary>
    public bool IsProgrammed(byte streamId, IdeKeyDirection direction, IdeSubStream subStream, int keySet)
    {
        int s = IndexOf(streamId);
        return s >= 0 && _programmed[SlotIndex(s, direction, subStream, keySet)];
    }

    /// <summary>The active key set (0/1) of a (direction, sub-stream), or -1 when stopped.</summary>
    public int ActiveKeySet(byte streamId, IdeKeyDirection direction, IdeSubStream subStream)
    {
        int s = IndexOf(streamId);
        return s < 0 ? -1 : _active[s * 6 + (int)direction * 3 + (int)subStream];
    }

    /// <summary>True when every direction and sub-stream of the stream has a programmed, started key set.</summary>
    public bool IsStreamReady(byte streamId)
    {
        int s = IndexOf(streamId);
        if (s < 0)
            return false;
        for (int d = 0; d < 2; d++)
            for (int ss = 0; ss < 3; ss++)
                if (_active[s * 6 + d * 3 + ss] < 0)
                    return false;
        return true;
    }

    /// <summary>The key and IFV programmed into a slot (48 bytes), for tests and tracing.</summary>
    public ReadOnlySpan<byte> GetKeyMaterial(byte streamId, IdeKeySubStream slot)
    {
        int s = IndexOf(streamId);
        return s < 0 ? default : _keys.AsSpan(SlotIndex(s, slot.Direction, slot.SubStream, slot.KeySet) * SlotBytes, SlotBytes);
    }

    internal void Program(byte streamId, IdeKeySubStream slot, ReadOnlySpan<byte> key, ReadOnlySpan<byte> ifv)
    {
        int s = IndexOf(streamId);
        int i = SlotIndex(s, slot.Direction, slot.SubStream, slot.KeySet);
        key.CopyTo(_keys.AsSpan(i * SlotBytes));
        ifv.CopyTo(_keys.AsSpan(i * SlotBytes + IdeKmStreamMessage.KeySize));
        _programmed[i] = true;
    }

    /// <summary>Starts the key set; a set never programmed is not started (the ack is still sent).</summary>
    internal void Go(byte streamId, IdeKeySubStream slot)
    {
        int s = IndexOf(streamId);
        if (_programmed[SlotIndex(s, slot.Direction, slot.SubStream, slot.KeySet)])
            _active[s * 6 + (int)slot.Direction * 3 + (int)slot.SubStream] = (sbyte)slot.KeySet;
    }

    /// <summary>Stops the (direction, sub-stream) if the named key set is the active one.</summary>
    internal void Stop(byte streamId, IdeKeySubStream slot)
    {
        int s = IndexOf(streamId);
        int a = s * 6 + (int)slot.Direction * 3 + (int)slot.SubStream;
        if (_active[a] == slot.KeySet)
            _active[a] = -1;
    }

    private int IndexOf(byte streamId)
    {
        for (int i = 0; i < _streamIds.Length; i++)
            if (_streamIds[i] == streamId)
                return i;
        return -1;
    }

    private static int SlotIndex(int stream, IdeKeyDirection d, IdeSubStream ss, int keySet) => stream * 12 + ((int)d * 3 + (int)ss) * 2 + keySet;
}
