using TsmLab.Kernel.Pci;

namespace TsmLab.Spdm.Requester;

/// <summary>How the requester's DOE objects reach the device: one whole object out, one back [SP3].</summary>
/// <remarks>
/// The requester never holds a mailbox: it produces DOE objects and consumes DOE objects. A direct
/// channel completes at once (<see cref="MailboxChannel"/>); a relayed one completes when the host
/// delivers the answer (<see cref="RelayChannel"/>), so firmware can hand each object to the host
/// and resume later.
/// </remarks>
public interface ISpdmDoeChannel
{
    /// <summary>Sends <paramref name="requestObject"/>; completes with the response object's length in <paramref name="responseObject"/> (0 = no answer).</summary>
    ValueTask<int> ExchangeAsync(ReadOnlyMemory<byte> requestObject, Memory<byte> responseObject);
}

/// <summary>A channel straight to a DOE mailbox (tests, benchmarks, a host-side requester).</summary>
public sealed class MailboxChannel(IDoeMailbox mailbox) : ISpdmDoeChannel
{
    public ValueTask<int> ExchangeAsync(ReadOnlyMemory<byte> requestObject, Memory<byte> responseObject) =>
        ValueTask.FromResult(mailbox.Exchange(requestObject.Span, responseObject.Span));
}

/// <summary>
/// A channel relayed by someone else, step by step: the requester's object waits in
/// <see cref="Pending"/> until <see cref="Deliver"/> hands back the answer, which resumes the
/// requester synchronously up to its next object (or its end). Not thread-safe: one relay drives it.
/// </summary>
public sealed class RelayChannel : ISpdmDoeChannel
{
    private readonly Continuation continuation = new();
    private Memory<byte> responseBuffer;

    /// <summary>The object waiting to be relayed to the device, or empty when none.</summary>
    public ReadOnlyMemory<byte> Pending { get; private set; }

    public ValueTask<int> ExchangeAsync(ReadOnlyMemory<byte> requestObject, Memory<byte> responseObject)
    {
        Pending = requestObject;
        responseBuffer = responseObject;
        return continuation.Wait();
    }

    /// <summary>Delivers the device's answer to the pending object (empty = no answer); the requester runs on until its next object.</summary>
    public void Deliver(ReadOnlySpan<byte> responseObject)
    {
        if (Pending.IsEmpty) throw new InvalidOperationException("no object is pending");
        int n = Math.Min(responseObject.Length, responseBuffer.Length);
        responseObject[..n].CopyTo(responseBuffer.Span);
        Pending = default;
        // Task continuations are inlined only where no SynchronizationContext is installed; clear it for
        // the call so the requester always runs on up to its next object before Deliver returns.
        var context = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(null);
        try { continuation.Complete(n); }
        finally { SynchronizationContext.SetSynchronizationContext(context); }
    }

    /// <summary>A reusable awaitable whose continuation runs inline on <see cref="Complete"/>.</summary>
    private sealed class Continuation : System.Threading.Tasks.Sources.IValueTaskSource<int>
    {
        private System.Threading.Tasks.Sources.ManualResetValueTaskSourceCore<int> core = new() { RunContinuationsAsynchronously = false };

        public ValueTask<int> Wait()
        {
            core.Reset();
            return new ValueTask<int>(this, core.Version);
        }

        public void Complete(int n) => core.SetResult(n);
        public int GetResult(short token) => core.GetResult(token);
        public System.Threading.Tasks.Sources.ValueTaskSourceStatus GetStatus(short token) => core.GetStatus(token);
        /// <summary>Registers the requester's continuation; it runs inline in <see cref="Complete"/>, never on a captured context.</summary>
        public void OnCompleted(Action<object?> c, object? s, short token, System.Threading.Tasks.Sources.ValueTaskSourceOnCompletedFlags f) =>
            core.OnCompleted(c, s, token, f & ~System.Threading.Tasks.Sources.ValueTaskSourceOnCompletedFlags.UseSchedulingContext);
    }
}
