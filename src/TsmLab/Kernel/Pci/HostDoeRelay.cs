using System.Buffers.Binary;
using System.Globalization;
using TsmLab.Hardware;
using TsmLab.Tdisp.Device;
using TsmLab.Tdisp.Wire;
using TsmLab.Tracing;

namespace TsmLab.Kernel.Pci;

/// <summary>
/// The host kernel's access to a function's DOE mailbox (Linux's <c>pci_doe</c>): every DOE object a
/// TSM driver — or the firmware through it — sends to the device, and the device's answer, cross
/// here. The host only carries bytes; it records each object (direction, data object type, length
/// and, for a secured SPDM object, the session id from its first four bytes) on the kernel's lane
/// of the machine's trace, and the whole object in the machine's DOE capture (pcap; the machine's own or its trace log's). It never
/// decodes what a secured object carries. Every platform's firmware reaches its device through here, so the DOE fault points sit here.
/// </summary>
internal sealed class HostDoeRelay : IDoeMailbox
{
    private readonly IDoeMailbox device;
    private readonly Machine machine;
    private readonly string function;

    public HostDoeRelay(IDoeMailbox device, Machine machine, PciAddress function)
    {
        this.device = device;
        this.machine = machine;
        this.function = function.ToString();
    }

    public int MaxResponseSize => device.MaxResponseSize;

    public int Exchange(ReadOnlySpan<byte> requestObject, Span<byte> responseObject)
    {
        Record(requestObject, toDevice: true);
        // Fault points (docs/reliability.md): a busy mailbox that never answers (the object is lost); below, a cut answer.
        if (Faults.FaultPlan.Armed && Faults.FaultPlan.Fail(Faults.FaultPoint.DoeExchange, "DOE exchange")) return 0;
        int n = device.Exchange(requestObject, responseObject);
        if (n > 0 && Faults.FaultPlan.Armed && Faults.FaultPlan.Fail(Faults.FaultPoint.DeviceResponse, "device response")) n /= 2;
        if (n > 0) Record(responseObject[..n], toDevice: false);
        return n;
    }

    private void Record(ReadOnlySpan<byte> doeObject, bool toDevice)
    {
        (machine.DoeCapture ?? machine.Trace?.DoeCapture)?.Record(doeObject);
        if (machine.Trace is not { } log) return;
        bool framed = DoeHeader.TryRead(doeObject, out var h);
        var fields = new List<TraceField>(5)
        {
            new("function", function),
            new("direction", toDevice ? "to-device" : "from-device"),
            new("type", framed ? TypeName(h.Type) : "malformed"),
            new("length", doeObject.Length.ToString(CultureInfo.InvariantCulture)),
        };
        if (framed && h.Type == DoeObjectType.SecuredSpdm && doeObject.Length >= DoeHeader.Size + 4)
            fields.Add(new("session_id", $"0x{BinaryPrimitives.ReadUInt32LittleEndian(doeObject[DoeHeader.Size..]):x8}"));
        log.Record(toDevice ? TraceLayer.Kernel : TraceLayer.Device, toDevice ? TraceLayer.Device : TraceLayer.Kernel, TraceKind.DeviceMessage,
            "DOE object", doeObject.Length.ToString(CultureInfo.InvariantCulture), [.. fields]);
    }

    private static string TypeName(DoeObjectType t) => t switch
    {
        DoeObjectType.Discovery => "discovery",
        DoeObjectType.Spdm => "spdm",
        DoeObjectType.SecuredSpdm => "secured-spdm",
        _ => ((byte)t).ToString(CultureInfo.InvariantCulture),
    };
}
