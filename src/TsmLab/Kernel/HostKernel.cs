using TsmLab.Abi;
using TsmLab.Hardware;
using TsmLab.Kernel.Iommufd;
using TsmLab.Kernel.Kvm;
using TsmLab.Kernel.Pci;
using TsmLab.Kernel.Tsm;
using TsmLab.Kernel.Vfio;

namespace TsmLab.Kernel;

/// <summary>
/// The host kernel of one machine: its PCI functions, the device nodes user space can open
/// (<c>/dev/iommu</c>, <c>/dev/kvm</c>, <c>/dev/vfio/devices/vfioN</c>), the TSM core with the
/// platform TSMs the configuration loads, and the processes running on it. A VMM reaches it
/// only through <see cref="Process"/>: open, close, ioctl and its own memory.
/// </summary>
public sealed class HostKernel
{
    private readonly List<PciFunction> functions = new();
    /// <summary>The functions by address (filled at boot, never changed after), so a look-up does not walk every function.</summary>
    private readonly Dictionary<PciAddress, PciFunction> functionsByAddress = new();
    private readonly List<VfioDevice> vfioDevices = new();
    private readonly List<IommufdContext> contexts = new();
    private readonly List<KvmVm> vms = new();
    private int nextPid = 1000;
    private int nextVmId = 1;
    /// <summary>Guards the lists of contexts and VMs (the functions and VFIO devices are fixed at boot).</summary>
    private readonly Lock listLock = new();

    private HostKernel(HostConfiguration configuration, Machine machine)
    {
        Configuration = configuration;
        Machine = machine;
        Tsm = new TsmCore(() => functions);
        Sysfs = new Sysfs(this);
        machine.OnTraceChanged(log => Tsm.Trace = log);
    }

    public HostConfiguration Configuration { get; }

    /// <summary>The hardware this kernel runs on: physical memory, platform firmware, PCIe devices.</summary>
    public Machine Machine { get; }

    /// <summary>
    /// Where boundary crossings are recorded; null (the default) records nothing. Setting it
    /// attaches the log to the whole machine (kernel, firmware, devices) at once.
    /// </summary>
    public Tracing.TraceLog? Trace
    {
        get => Machine.Trace;
        set => Machine.Trace = value;
    }
    public TsmCore Tsm { get; }
    public Sysfs Sysfs { get; }
    /// <summary>The locked-memory count of the one user the model's processes run as.</summary>
    public UserLockedMemory UserLockedMemory { get; } = new();
    public IReadOnlyList<PciFunction> Functions => functions;
    public IReadOnlyList<VfioDevice> VfioDevices => vfioDevices;
    /// <summary>Open iommufd contexts.</summary>
    public IReadOnlyList<IommufdContext> IommufdContexts
    {
        get { lock (listLock) return contexts.ToArray(); }
    }
    /// <summary>VMs not yet destroyed.</summary>
    public IEnumerable<KvmVm> Vms
    {
        get { lock (listLock) return vms.Where(v => !v.Destroyed).ToArray(); }
    }

    /// <summary>
    /// Boots a host: creates its PCI functions and VFIO cdevs, loads its TSM drivers and runs
    /// the configured connects. Throws <see cref="InvalidOperationException"/> for a
    /// configuration that cannot boot (a programming error in a host definition, not user input).
    /// </summary>
    public static HostKernel Boot(HostConfiguration configuration) => Boot(configuration, null);

    /// <summary>
    /// Boots a host, letting <paramref name="beforeDevices"/> see the kernel before its PCI
    /// functions, TSMs and connects exist (to attach a trace or a DOE capture that must see the
    /// connects' SPDM and IDE_KM exchanges).
    /// </summary>
    public static HostKernel Boot(HostConfiguration configuration, Action<HostKernel>? beforeDevices)
    {
        var memory = new PhysicalMemory(configuration.DramBase);
        var machine = new Machine(configuration.Name, memory, configuration.Firmware?.Invoke(memory), configuration.Devices);
        var kernel = new HostKernel(configuration, machine);
        beforeDevices?.Invoke(kernel);
        var byAddress = new Dictionary<PciAddress, PciFunction>();
        foreach (var spec in configuration.Functions.OrderBy(f => f.Dsm is null ? 0 : 1))
        {
            PciFunction? dsm = null;
            if (spec.Dsm is { } d && d != spec.Address && !byAddress.TryGetValue(d, out dsm))
                throw new InvalidOperationException($"host '{configuration.Name}': DSM {d} of {spec.Address} is not a function of the host");
            var fn = new PciFunction(spec.Address, spec.VendorId, spec.DeviceId, spec.TeeCapable, dsm, spec.Iommu, spec.Config,
                spec.Doe is null ? null : new HostDoeRelay(spec.Doe, machine, spec.Address)) { SpdmRoot = spec.SpdmRoot };
            byAddress.Add(spec.Address, fn);
        }
        // Enumeration: size the BARs from config space once (a VF's from its PF's SR-IOV capability).
        foreach (var fn in byAddress.Values)
        {
            if (fn.IsDsm) { fn.Resources = PciResources.OfFunction(fn.Config); continue; }
            int vf = PciResources.VfIndexOf(fn.Dsm.Config, fn.Dsm.Address.RequesterId, fn.Address.RequesterId);
            fn.Resources = vf >= 0 ? PciResources.OfVirtualFunction(fn.Dsm.Config, vf) : PciResources.OfFunction(fn.Config);
        }
        // Keep the configuration's order for functions and vfioN numbering.
        foreach (var spec in configuration.Functions)
        {
            var fn = byAddress[spec.Address];
            kernel.functions.Add(fn);
            kernel.functionsByAddress[spec.Address] = fn;
            if (spec.Assignable) kernel.vfioDevices.Add(new VfioDevice(kernel.vfioDevices.Count, fn));
        }
        foreach (var t in configuration.Tsms) kernel.Tsm.Register(t.Parent, t.Create(kernel, machine));
        foreach (var (dsmAddress, tsmName) in configuration.Connects)
        {
            if (!byAddress.TryGetValue(dsmAddress, out var dsm))
                throw new InvalidOperationException($"host '{configuration.Name}': connect names unknown function {dsmAddress}");
            int rc = kernel.Tsm.Connect(dsm, tsmName);
            if (rc < 0)
                throw new InvalidOperationException($"host '{configuration.Name}': connect {dsmAddress} to {tsmName} failed: {ErrnoNames.NameOf(rc)}"
                    + (dsm.ConnectFailure is { } why ? $" ({why})" : ""));
        }
        return kernel;
    }

    /// <summary>Starts a process (the VMM) on this host.</summary>
    public Process CreateProcess() => new(this, Interlocked.Increment(ref nextPid) - 1);

    /// <summary>The function at that address, or null.</summary>
    public PciFunction? FindFunction(PciAddress address) => functionsByAddress.GetValueOrDefault(address);

    internal int OpenNode(string path, out KernelFile? file)
    {
        file = null;
        switch (path)
        {
            case "/dev/iommu":
                var ctx = new IommufdContext(this);
                lock (listLock) contexts.Add(ctx);
                file = ctx;
                return 0;
            case "/dev/kvm":
                file = new KvmDevFile(this);
                return 0;
        }
        const string vfioPrefix = "/dev/vfio/devices/vfio";
        if (path.StartsWith(vfioPrefix, StringComparison.Ordinal) &&
            int.TryParse(path.AsSpan(vfioPrefix.Length), System.Globalization.NumberStyles.None, null, out int n) &&
            n < vfioDevices.Count && path == vfioDevices[n].Path)
        {
            file = new VfioDeviceFile(vfioDevices[n]);
            return 0;
        }
        return Errno.ENOENT.Neg();
    }

    internal KvmVm CreateVm(ulong type, TvmArch arch)
    {
        lock (listLock)
        {
            var vm = new KvmVm(nextVmId++, type, arch);
            vms.Add(vm);
            return vm;
        }
    }

    internal void ContextReleased(IommufdContext ctx)
    {
        lock (listLock) contexts.Remove(ctx);
    }
}
