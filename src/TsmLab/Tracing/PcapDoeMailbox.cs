using TsmLab.Kernel.Pci;

namespace TsmLab.Tracing;

/// <summary>A DOE mailbox that records every object it passes, both directions, in a pcap capture (LINKTYPE_PCI_DOE).</summary>
public sealed class PcapDoeMailbox(IDoeMailbox inner, PcapWriter pcap) : IDoeMailbox
{
    public int MaxResponseSize => inner.MaxResponseSize;

    public int Exchange(ReadOnlySpan<byte> requestObject, Span<byte> responseObject)
    {
        pcap.Record(requestObject);
        int n = inner.Exchange(requestObject, responseObject);
        if (n > 0) pcap.Record(responseObject[..n]);
        return n;
    }
}
