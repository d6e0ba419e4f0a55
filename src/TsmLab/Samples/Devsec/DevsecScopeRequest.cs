using System.Buffers.Binary;
using TsmLab.Abi;

namespace TsmLab.Samples.Devsec;

/// <summary>
/// The devsec TSM's scope-profile payload (TsmLab definition; the sample has no guest requests):
/// <c>u32 command @0</c>, <c>u32 argument @4</c>, exactly 8 bytes. Command 1 is SET_STATE with a
/// TDISP state as argument (a state change). The numbering is deliberately the natural one —
/// command 1 first — and so it collides with Arm CCA's RFC v4 scope payloads, where req_type 1
/// with a u32 at 4 is an 8-byte OBJECT_SIZE read: the same bytes are an information request at
/// one TSM and a state change at the other, which is the aliasing the kernel reviewers objected to
/// (docs/proposal.md). Nothing in the scope layout can tell the two apart; only the TSM can.
/// </summary>
public static class DevsecScopeRequest
{
    /// <summary>SET_STATE's command number.</summary>
    public const uint SetState = 1;

    /// <summary>The only payload length.</summary>
    public const int SetStateLength = 8;

    /// <summary>Decodes a payload: its target state and class; false when it is not one.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> payload, out uint state, out TsmReqClass requestClass)
    {
        state = 0;
        requestClass = TsmReqClass.StateChange;
        if (payload.Length != SetStateLength || BinaryPrimitives.ReadUInt32LittleEndian(payload) != SetState) return false;
        state = BinaryPrimitives.ReadUInt32LittleEndian(payload[4..]);
        return true;
    }
}
