using TsmLab.Abi;
using TsmLab.Kernel;
using TsmLab.Kernel.Pci;

namespace TsmLab.Samples.Devsec;

/// <summary>
/// Adds <c>samples/devsec</c> to a host [DS1]: an emulated PCI host bridge in the first free PCI
/// domain (1 here, beside the platform's domain 0) with one device of two functions (PF0, the DSM,
/// and function 1), both TDISP-capable and owned by vfio-pci, and the devsec link TSM, registered
/// after the host's own TSMs and connected to PF0 at boot. IDs abcd:00de are TsmLab's. The result
/// is the reviewers' case: two TSMs serving different devices of one host.
/// </summary>
public static class DevsecBus
{
    /// <summary>The suffix of a built-in host with the devsec bus added.</summary>
    public const string HostSuffix = "-devsec";

    /// <summary>The emulated host bridge's PCI domain.</summary>
    public const ushort Segment = 1;

    /// <summary>PF0 of the devsec device.</summary>
    public static PciAddress Pf0 => new(Segment, 1, 0, 0);

    /// <summary>Function 1 of the devsec device.</summary>
    public static PciAddress Function1 => new(Segment, 1, 0, 1);

    /// <summary>The vendor and device IDs of the emulated functions.</summary>
    public const ushort VendorId = 0xabcd, DeviceId = 0x00de;

    /// <summary>
    /// <paramref name="host"/> with the devsec bus and TSM added: named NAME-devsec, the functions
    /// appended (so their VFIO cdevs follow the host's), the TSM serving the architecture of the
    /// host's first confidential VM type.
    /// </summary>
    public static HostConfiguration With(HostConfiguration host)
    {
        var arch = host.VmTypes.Count > 0 ? host.VmTypes[0].Arch : TvmArch.None;
        int tsmId = host.Tsms.Count;
        return host with
        {
            Name = host.Name + HostSuffix,
            Description = $"{host.Description}; plus samples/devsec: a second link TSM (tsm{tsmId}) serving its own device at {Pf0}",
            Functions =
            [
                .. host.Functions,
                new PciFunctionSpec(Pf0, VendorId, DeviceId, TeeCapable: true, Dsm: Pf0),
                new PciFunctionSpec(Function1, VendorId, DeviceId, TeeCapable: true, Dsm: Pf0),
            ],
            Tsms = [.. host.Tsms, new TsmSpec("devsec_link_tsm", (_, _) => new DevsecLinkTsm(arch, Segment))],
            Connects = [.. host.Connects, (Pf0, $"tsm{tsmId}")],
        };
    }
}
