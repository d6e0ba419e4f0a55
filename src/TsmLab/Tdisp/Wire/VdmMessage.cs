namespace TsmLab.Tdisp.Wire;

/// <summary>VDM_REQUEST and VDM_RESPONSE: a vendor-defined message inside TDISP [D1].</summary>
/// <remarks>
/// VDM_REQUEST (0x8B) / VDM_RESPONSE (0x0B), variable size [D1] (§5.3): registry_id u8 @16 (0
/// PCI-SIG, 1 CXL); vendor_id_len u8 @17; vendor_id @18; data after it.
/// </remarks>
public readonly ref struct VdmMessage
{
    public const int FixedSize = 18;
    public const byte RegistryPciSig = 0;
    public const byte RegistryCxl = 1;

    public byte MessageType { get; }
    public TdiFunctionId FunctionId { get; }
    public byte RegistryId { get; }
    public ReadOnlySpan<byte> VendorId { get; }
    public ReadOnlySpan<byte> Data { get; }

    private VdmMessage(byte type, TdiFunctionId id, byte registry, ReadOnlySpan<byte> vendor, ReadOnlySpan<byte> data)
    {
        MessageType = type;
        FunctionId = id;
        RegistryId = registry;
        VendorId = vendor;
        Data = data;
    }

    /// <summary>Reads a VDM_REQUEST or VDM_RESPONSE (by <paramref name="messageType"/>).</summary>
    public static bool TryRead(ReadOnlySpan<byte> message, byte messageType, out VdmMessage result)
    {
        result = default;
        if (message.Length < FixedSize || message[0] != TdispHeader.Version10 || message[1] != messageType)
            return false;
        int vlen = message[17];
        if (message.Length < FixedSize + vlen || !TdispHeader.TryRead(message, out var h))
            return false;
        result = new VdmMessage(messageType, h.FunctionId, message[16], message.Slice(FixedSize, vlen), message[(FixedSize + vlen)..]);
        return true;
    }

    public static int Write(Span<byte> destination, byte messageType, TdiFunctionId functionId, byte registryId, ReadOnlySpan<byte> vendorId, ReadOnlySpan<byte> data)
    {
        var m = TdispHeader.Begin(destination, messageType, functionId, FixedSize + vendorId.Length + data.Length);
        m[16] = registryId;
        m[17] = (byte)vendorId.Length;
        vendorId.CopyTo(m[FixedSize..]);
        data.CopyTo(m[(FixedSize + vendorId.Length)..]);
        return m.Length;
    }
}
