namespace TsmLab.Platforms.Cca.Guest;

/// <summary>
/// Where the realm guest keeps its buffers (IPAs in its RAM) and where it places device MMIO.
/// TsmLab choices: host-call block, vdevice-info page, measurement params page, a 64 KiB shared
/// buffer for object reads, and device ranges laid out from <see cref="MmioBase"/> in report order.
/// </summary>
public sealed record RealmGuestLayout
{
    public ulong HostCallIpa { get; init; } = 0x8000;
    public ulong InfoIpa { get; init; } = 0x9000;
    public ulong MeasParamsIpa { get; init; } = 0xA000;
    public ulong SharedBufferIpa { get; init; } = 0x10000;
    public uint SharedBufferSize { get; init; } = 0x10000;
    public ulong MmioBase { get; init; } = 0x1_0000_0000;
}
