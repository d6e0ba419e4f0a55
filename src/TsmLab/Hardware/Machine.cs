using TsmLab.Kernel.Pci;
using TsmLab.Tracing;

namespace TsmLab.Hardware;

/// <summary>
/// One host machine's hardware: its physical memory, its platform firmware, and the PCIe devices
/// plugged into it. The host kernel boots on it; platform drivers and KVM are handed the
/// firmware; nothing builds firmware of its own. A trace attached here reaches the kernel, the
/// firmware and every device at once.
/// </summary>
public sealed class Machine
{
    private readonly List<Action<TraceLog?>> traceObservers = [];
    private TraceLog? trace;

    public Machine(string name, PhysicalMemory memory, IPlatformFirmware? firmware, IReadOnlyList<IPciEndpoint> devices)
    {
        Name = name;
        Memory = memory;
        Firmware = firmware;
        Devices = devices;
    }

    /// <summary>The host's name (the lane devices are traced on).</summary>
    public string Name { get; }

    /// <summary>The one physical-memory model: the pages the kernel gives firmware and the firmware reads by address.</summary>
    public PhysicalMemory Memory { get; }

    /// <summary>The platform firmware, or null on a machine without one.</summary>
    public IPlatformFirmware? Firmware { get; }

    /// <summary>The PCIe devices plugged in.</summary>
    public IReadOnlyList<IPciEndpoint> Devices { get; }

    /// <summary>The firmware as the platform's own type (a platform's drivers call this with their firmware type).</summary>
    public T FirmwareAs<T>() where T : class, IPlatformFirmware =>
        Firmware as T ?? throw new InvalidOperationException($"machine '{Name}' has no {typeof(T).Name} firmware");

    /// <summary>Where every crossing on this machine is recorded; null records nothing.</summary>
    public TraceLog? Trace
    {
        get => trace;
        set
        {
            trace = value;
            Firmware?.AttachTrace(value);
            foreach (var d in Devices) d.AttachTrace(value, Name);
            foreach (var o in traceObservers) o(value);
        }
    }

    /// <summary>
    /// Where every DOE object the host relays between a driver (or firmware) and a device is
    /// captured, both directions (pcap, LINKTYPE_PCI_DOE); null captures nothing. Several machines
    /// may share one writer (it is thread-safe).
    /// </summary>
    public PcapWriter? DoeCapture { get; set; }

    /// <summary>Lets a layer above the hardware (the kernel) follow <see cref="Trace"/>.</summary>
    public void OnTraceChanged(Action<TraceLog?> observer)
    {
        traceObservers.Add(observer);
        observer(trace);
    }
}
