namespace TsmLab.Spdm.Requester;

/// <summary>
/// The result of a requester operation whose channel completes at once (a mailbox, a socket
/// mailbox): returned without blocking when it already completed, which is the case for every
/// synchronous channel; otherwise waited for. Callers that drive a relayed channel must not use it.
/// </summary>
internal static class SyncChannelWait
{
    public static T Result<T>(ValueTask<T> pending) => pending.IsCompleted ? pending.Result : pending.AsTask().GetAwaiter().GetResult();
}
