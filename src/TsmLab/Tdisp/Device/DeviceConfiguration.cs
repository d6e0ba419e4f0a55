using TsmLab.Tdisp.Wire;

namespace TsmLab.Tdisp.Device;

/// <summary>A memory BAR of a function: index 0-5, base address as assigned by the host, size (power of two, at least 4 KiB).</summary>
/// <remarks>
/// The configuration a modelled TDISP device is built from (parsed from JSON by
/// DeviceConfigurationJson). Where the spec is silent (BAR/MSI-X placement, SR-IOV routing, IDE
/// registers) the fields follow PCIe config-space conventions; see docs/tdisp.md.
/// </remarks>
public sealed record BarConfiguration(int Index, ulong Address, ulong Size, bool Is64Bit, bool Prefetchable, bool MemAttrUpdatable = false);

/// <summary>Where a function's MSI-X table and PBA sit (BAR and offset) and how many vectors the table has.</summary>
public sealed record MsixConfiguration(int TableBar, ulong TableOffset, int TableSize, int PbaBar, ulong PbaOffset, int CapabilityOffset = 0xB0)
{
    public ulong TableBytes => (ulong)TableSize * 16;
    public ulong PbaBytes => (ulong)((TableSize + 63) / 64) * 8;
}

/// <summary>The MMIO layout of one function (a PF, or every VF of an SR-IOV PF).</summary>
public sealed record FunctionLayout(IReadOnlyList<BarConfiguration> Bars, MsixConfiguration? Msix);

/// <summary>SR-IOV virtual functions, each a TDI: VF n has RID = PF RID + FirstVfOffset + n * VfStride,
/// and its BAR i at <c>Layout.Bars[i].Address + n * Size</c> (the SR-IOV VF BAR convention).</summary>
public sealed record SriovConfiguration(int Count, int FirstVfOffset, int VfStride, ushort VfDeviceId, FunctionLayout Layout);

/// <summary>What the DSM advertises in TDISP_CAPABILITIES and how it serves reports [D1].</summary>
public sealed record TdispDeviceCapabilities(
    LockInterfaceFlags LockFlagsSupported,
    UInt128 RequestsSupported,
    byte DeviceAddressWidth,
    bool XtSupported,
    byte NumRequestsThis,
    byte NumRequestsAll,
    InterfaceInfo InterfaceInfo,
    int MaxReportPortion,
    byte[] DeviceSpecificInfo);

/// <summary>The device's IDE port and the selective IDE stream ids it has key slots for [D4].</summary>
public sealed record IdeConfiguration(byte MaxPortIndex, IReadOnlyList<byte> StreamIds);

/// <summary>One measurement: DMTF type (bits 0-6), and either a raw value or a SHA-384 digest of it.</summary>
public sealed record MeasurementConfiguration(byte Index, byte Type, bool Raw, byte[] Value);

/// <summary>The seed every identity key is derived from, and the measurements the device reports.</summary>
public sealed record IdentityConfiguration(string Seed, IReadOnlyList<MeasurementConfiguration> Measurements);

/// <summary>How the DSM answers where the sources disagree or the platform chooses.</summary>
/// <param name="StopInUnlocked">STOP_INTERFACE in CONFIG_UNLOCKED: success [V1] or INVALID_INTERFACE_STATE [E4].</param>
/// <param name="RequireIdeKeysForLock">LOCK needs the default stream's keys programmed and started [V1].</param>
public sealed record DevicePolicy(StopInUnlockedPolicy StopInUnlocked = StopInUnlockedPolicy.Succeed, bool RequireIdeKeysForLock = true);

/// <summary>A whole device: the PF at segment:bus:device.function, its ids, layout, VFs, TDISP and IDE
/// capabilities, identity and policy.</summary>
public sealed record DeviceConfiguration(
    byte Segment,
    byte Bus,
    byte Device,
    byte Function,
    ushort VendorId,
    ushort DeviceId,
    FunctionLayout Layout,
    SriovConfiguration? Sriov,
    TdispDeviceCapabilities Tdisp,
    IdeConfiguration Ide,
    IdentityConfiguration Identity,
    DevicePolicy Policy)
{
    /// <summary>The PF's routing id.</summary>
    public ushort Rid => (ushort)((Bus << 8) | ((Device & 0x1F) << 3) | (Function & 7));

    /// <summary>Parses the JSON schema documented in docs/tdisp.md; throws <see cref="DeviceConfigurationException"/>.</summary>
    public static DeviceConfiguration FromJson(string json) => DeviceConfigurationJson.Parse(json);

    /// <summary>
    /// Reads a device file (a regular file of at most 1 MiB) and parses it; messages name the file,
    /// the line and the field. Throws <see cref="DeviceConfigurationException"/>, or
    /// <see cref="Input.InputFileException"/> when the file cannot be read.
    /// </summary>
    public static DeviceConfiguration FromFile(string path) =>
        DeviceConfigurationJson.Parse(Input.InputFile.ReadAllBytes(path, "device file"), $"device file '{Input.Printable.Of(path)}'");

    /// <summary>The built-in default device (PF 0000:01:00.0, function_id 0x0100, four VFs after it).</summary>
    public static DeviceConfiguration Default => DefaultDevice.Configuration;
}

/// <summary>STOP_INTERFACE in CONFIG_UNLOCKED: the sources disagree (§5.6).</summary>
public enum StopInUnlockedPolicy
{
    /// <summary>Answer STOP_INTERFACE_RESPONSE and stay UNLOCKED (Intel TEE-IO validator [V1]); the default.</summary>
    Succeed,
    /// <summary>Answer TDISP_ERROR INVALID_INTERFACE_STATE (DMTF spdm-emu sample [E4]).</summary>
    RejectInvalidInterfaceState,
}

/// <summary>A device configuration that does not parse or is inconsistent; the message names the field.</summary>
public sealed class DeviceConfigurationException : FormatException
{
    public DeviceConfigurationException(string message) : base(message) { }
    public DeviceConfigurationException(string message, Exception inner) : base(message, inner) { }
}
