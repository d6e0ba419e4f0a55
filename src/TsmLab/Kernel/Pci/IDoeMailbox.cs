namespace TsmLab.Kernel.Pci;

/// <summary>
/// A function's Data Object Exchange mailbox as the host's DOE driver uses it (Linux
/// <c>pci_doe()</c>: one request object in, one response object out) [D2]: whole DOE objects as
/// bytes, 8-byte header included, DWORD-padded. What the objects carry is the device's business.
/// </summary>
public interface IDoeMailbox
{
    /// <summary>The largest response object the mailbox can return (bounds the caller's buffer).</summary>
    int MaxResponseSize { get; }

    /// <summary>Sends one object and receives the answer; returns the response's length in bytes, or 0 when the mailbox answered nothing.</summary>
    int Exchange(ReadOnlySpan<byte> requestObject, Span<byte> responseObject);
}
