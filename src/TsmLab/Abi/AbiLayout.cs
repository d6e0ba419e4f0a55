namespace TsmLab.Abi;

/// <summary>One field of a uAPI struct: its Linux name, byte offset and size.</summary>
public sealed record AbiField(string Name, int Offset, int Size);

/// <summary>
/// A uAPI struct as it sits in user memory: its C name, total size, the minimum size a caller
/// must supply (iommufd's <c>offsetofend(struct, last)</c>) and its fields.
/// </summary>
public sealed record AbiStruct(string Name, int Size, int MinSize, IReadOnlyList<AbiField> Fields)
{
    /// <summary>Builds a struct whose minimum size ends at the field named <paramref name="lastMember"/>.</summary>
    public static AbiStruct Define(string name, int size, string lastMember, params AbiField[] fields)
    {
        if (fields.Length == 0) return new AbiStruct(name, size, 0, fields);
        var last = fields.Single(f => f.Name == lastMember);
        return new AbiStruct(name, size, last.Offset + last.Size, fields);
    }

    /// <summary>The field named <paramref name="name"/>.</summary>
    public AbiField this[string name] => Fields.Single(f => f.Name == name);
}

/// <summary>One ioctl as <c>tsmlab abi</c> prints it.</summary>
public sealed record AbiIoctl(string Name, uint Number, string Device, AbiStruct Struct, string Source);
