namespace TsmLab.Linux;

/// <summary>
/// A classic BPF program for seccomp (struct sock_filter: u16 code, u8 jt, u8 jf, u32 k),
/// built with forward jumps to labels so the filter reads like its assembly.
/// </summary>
internal sealed class BpfProgram
{
    // Instruction classes and modes (include/uapi/linux/filter.h, bpf_common.h).
    private const ushort LdWAbs = 0x00 | 0x00 | 0x20;   // BPF_LD | BPF_W | BPF_ABS
    private const ushort JmpJeqK = 0x05 | 0x10 | 0x00;  // BPF_JMP | BPF_JEQ | BPF_K
    private const ushort JmpJgeK = 0x05 | 0x30 | 0x00;  // BPF_JMP | BPF_JGE | BPF_K
    private const ushort AluAndK = 0x04 | 0x50 | 0x00;  // BPF_ALU | BPF_AND | BPF_K
    private const ushort RetK = 0x06 | 0x00;            // BPF_RET | BPF_K

    private readonly List<(ushort Code, string? True, string? False, uint K)> code = new();
    private readonly Dictionary<string, int> labels = new();

    public BpfProgram Load(uint offset) => Add(LdWAbs, null, null, offset);
    public BpfProgram And(uint mask) => Add(AluAndK, null, null, mask);
    /// <summary>if (A == k) goto ifTrue (null: next) else goto ifFalse (null: next).</summary>
    public BpfProgram JumpIfEqual(uint k, string? ifTrue, string? ifFalse = null) => Add(JmpJeqK, ifTrue, ifFalse, k);
    public BpfProgram JumpIfAtLeast(uint k, string? ifTrue, string? ifFalse = null) => Add(JmpJgeK, ifTrue, ifFalse, k);
    public BpfProgram Return(uint action) => Add(RetK, null, null, action);

    public BpfProgram Label(string name)
    {
        labels.Add(name, code.Count);
        return this;
    }

    private BpfProgram Add(ushort c, string? t, string? f, uint k)
    {
        code.Add((c, t, f, k));
        return this;
    }

    /// <summary>The encoded instructions, 8 bytes each. Throws for an unknown label or a jump beyond 255.</summary>
    public byte[] Encode()
    {
        var bytes = new byte[code.Count * 8];
        for (int i = 0; i < code.Count; i++)
        {
            var (c, t, f, k) = code[i];
            var s = bytes.AsSpan(i * 8, 8);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(s, c);
            s[2] = Offset(i, t);
            s[3] = Offset(i, f);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(s[4..], k);
        }
        return bytes;
    }

    public int Count => code.Count;

    private byte Offset(int from, string? label)
    {
        if (label is null) return 0;
        int to = labels[label];
        int d = to - from - 1;
        if (d < 0 || d > 255) throw new InvalidOperationException($"BPF jump to {label} out of range");
        return (byte)d;
    }
}
