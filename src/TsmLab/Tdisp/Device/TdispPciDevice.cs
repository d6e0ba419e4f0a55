using TsmLab.Kernel;
using TsmLab.Kernel.Pci;
using TsmLab.Tracing;

namespace TsmLab.Tdisp.Device;

/// <summary>
/// A TDISP-capable PCIe device as a machine holds it: what the host can reach is what the
/// hardware offers, per function a configuration space (IDs, BARs, the SR-IOV capability on the
/// PF, the DOE capability on the DSM) and on the DSM a DOE mailbox that takes and returns DOE
/// objects as bytes. The <see cref="DeviceSecurityManager"/> behind them is for observation by
/// tests and traces; host drivers and firmware never hold it. Config-space writes reach the
/// TDIs (a write to a locked register of a LOCKED or RUN TDI moves it to ERROR).
/// </summary>
public sealed class TdispPciDevice : IPciEndpoint
{
    /// <summary>Class code given to the device's functions: processing accelerator (TsmLab definition; no driver binds by class).</summary>
    public const uint ClassCode = 0x12_00_00;

    private readonly List<PciFunctionSpec> functions = [];

    /// <summary>Builds the device from a configuration (docs/tdisp.md); <paramref name="entropy"/> defaults to the OS CSPRNG.</summary>
    public TdispPciDevice(DeviceConfiguration configuration, ITdispEntropySource? entropy = null)
        : this(new DeviceSecurityManager(configuration, entropy))
    {
    }

    /// <summary>Builds the device around an existing DSM.</summary>
    public TdispPciDevice(DeviceSecurityManager dsm)
        : this(dsm, null)
    {
    }

    /// <summary>
    /// Builds the device around an existing DSM with its SPDM responder's settings and identity
    /// chosen by the caller (<c>tsmlab device serve</c>): null settings keep the platform models'
    /// defaults, a null identity the device's deterministic one.
    /// </summary>
    /// <summary>
    /// The platform models' responder settings: the defaults, plus CHUNK_CAP when the device's signed
    /// MEASUREMENTS of every block would not fit its DataTransferSize, so a requester with CHUNK_CAP
    /// can still fetch them (TsmLab definition: a device with a record that large would offer chunking).
    /// </summary>
    private static TsmLab.Spdm.Responder.SpdmResponderSettings DefaultSpdmSettings(DeviceIdentity identity)
    {
        var settings = new TsmLab.Spdm.Responder.SpdmResponderSettings();
        // MEASUREMENTS (1.3+): header 8, the blocks, nonce 32, opaque length 2, requester context 8, P-384 signature 96.
        long size = 8 + 32 + 2 + 8 + 96;
        foreach (var m in identity.Measurements) size += m.EncodedSize;
        return size <= settings.DataTransferSize ? settings
            : new TsmLab.Spdm.Responder.SpdmResponderSettings { Capabilities = settings.Capabilities | TsmLab.Spdm.Wire.SpdmCapabilities.Chunk };
    }

    public TdispPciDevice(DeviceSecurityManager dsm, TsmLab.Spdm.Responder.SpdmResponderSettings? spdmSettings, Func<TsmLab.Spdm.Responder.SpdmResponderIdentity>? spdmIdentity = null)
    {
        Dsm = dsm;
        var c = dsm.Configuration;
        // The SPDM responder answers DOE; TDISP and IDE_KM reach the device only inside a secured session
        // (a VENDOR_DEFINED_REQUEST outside one is refused, as the TDISP spec requires). Its nonces come
        // from the OS CSPRNG, not the DSM's entropy source, so TDISP nonce sequences stay what they were.
        Spdm = new TsmLab.Spdm.Responder.SpdmResponder(spdmIdentity ?? (() => TsmLab.Spdm.Responder.SpdmResponderIdentity.FromDevice(dsm.Identity, c)), dsm,
            spdmSettings ?? DefaultSpdmSettings(dsm.Identity));
        Mailbox = new DoeMailbox(Spdm);
        var pf = new PciAddress(c.Segment, c.Bus, c.Device, c.Function);
        PciSriovSpec? sriov = c.Sriov is { } s
            ? new PciSriovSpec((ushort)s.Count, (ushort)s.FirstVfOffset, (ushort)s.VfStride, s.VfDeviceId, Bars(s.Layout))
            : null;
        var pfConfig = PciConfigSpace.Endpoint(c.VendorId, c.DeviceId, ClassCode, Bars(c.Layout), sriov, doe: true);
        Observe(pfConfig, dsm.Interfaces[0]);
        functions.Add(new PciFunctionSpec(pf, c.VendorId, c.DeviceId, TeeCapable: true) { Config = pfConfig, Doe = Mailbox, SpdmRoot = dsm.Identity.RootCertificate });
        if (c.Sriov is { } sv)
        {
            for (int n = 0; n < sv.Count; n++)
            {
                int rid = c.Rid + sv.FirstVfOffset + n * sv.VfStride;
                var vf = new PciAddress(c.Segment, (byte)(rid >> 8), (byte)((rid >> 3) & 0x1F), (byte)(rid & 7));
                // A VF's own BAR registers read as zero; its resources come from the PF's SR-IOV capability.
                var vfConfig = PciConfigSpace.Endpoint(c.VendorId, sv.VfDeviceId, ClassCode, []);
                Observe(vfConfig, dsm.Interfaces[n + 1]);
                functions.Add(new PciFunctionSpec(vf, c.VendorId, sv.VfDeviceId, TeeCapable: true, Dsm: pf) { Config = vfConfig });
            }
        }
    }

    /// <summary>The built-in default device (docs/tdisp.md).</summary>
    public static TdispPciDevice CreateDefault(ITdispEntropySource? entropy = null) => new(DeviceSecurityManager.CreateDefault(entropy));

    /// <summary>The device's security manager (observation only: the host reaches it through the mailbox).</summary>
    public DeviceSecurityManager Dsm { get; }

    /// <summary>The DSM's SPDM responder (observation only: the host reaches it through the mailbox).</summary>
    public TsmLab.Spdm.Responder.SpdmResponder Spdm { get; }

    /// <summary>The DSM's DOE mailbox.</summary>
    public DoeMailbox Mailbox { get; }

    /// <inheritdoc/>
    public IReadOnlyList<PciFunctionSpec> Functions => functions;

    /// <inheritdoc/>
    public void AttachTrace(TraceLog? log, string lane)
    {
        if (log is null) { Dsm.Exchanged = null; Dsm.StateChanged = null; Spdm.Exchanged = null; return; }
        DeviceTrace.Attach(Dsm, log, lane);
        SpdmTrace.Attach(Spdm, log);
    }

    private static PciBarSpec[] Bars(FunctionLayout layout) =>
        [.. layout.Bars.Select(b => new PciBarSpec(b.Index, b.Address, b.Size, b.Is64Bit, b.Prefetchable))];

    private static void Observe(PciConfigSpace config, Tdi tdi)
    {
        config.Written = (offset, length) => tdi.ConfigWrite(offset, length);
        config.FunctionLevelReset = tdi.FunctionLevelReset;
    }
}
