using System.Security.Cryptography.X509Certificates;
using TsmLab.EmuSocket;
using TsmLab.Kernel;

namespace TsmLab.Hosts;

/// <summary>
/// A host whose DSM answers on the far side of DMTF's emulator socket protocol (docs/interop.md):
/// the functions (IDs, BARs, configuration space) stay the base host's, the DSM's DOE mailbox
/// becomes the socket, so the platform's firmware authenticates and drives that responder through
/// the host's DOE relay as it drives the built-in device. Used by host files (<c>"doe"</c>) and
/// <c>tsmlab demo --device</c>.
/// </summary>
public static class RemoteDsm
{
    public const string Prefix = "tcp:";

    /// <summary>Reads "tcp:HOST:PORT" (the host is required); false for anything else.</summary>
    public static bool TryParse(string endpoint, out string host, out int port)
    {
        host = "";
        port = 0;
        return endpoint.StartsWith(Prefix, StringComparison.Ordinal) && endpoint.AsSpan(Prefix.Length).Contains(':')
            && EmuSocketProtocol.TryParseEndpoint(endpoint[Prefix.Length..], out host, out port);
    }

    /// <summary>
    /// Connects to <paramref name="host"/>:<paramref name="port"/> (TEST first) and puts the socket
    /// in place of <paramref name="config"/>'s DSM mailbox; with <paramref name="root"/>, that is the
    /// root the host provisions for the device's chain (otherwise the base host's stays). Null with
    /// <paramref name="problem"/> when the host has no DSM or the endpoint does not answer.
    /// <paramref name="leaveRunning"/>: disposing the mailbox sends CONTINUE instead of SHUTDOWN.
    /// </summary>
    public static HostConfiguration? Connect(HostConfiguration config, string host, int port, X509Certificate2? root,
        bool leaveRunning, out SocketDoeMailbox? mailbox, out string problem)
    {
        mailbox = null;
        int dsm = -1;
        for (int i = 0; i < config.Functions.Count && dsm < 0; i++)
            if (config.Functions[i].Doe is not null) dsm = i;
        if (dsm < 0)
        {
            problem = $"host '{config.Name}' has no DSM with a DOE mailbox to replace";
            return null;
        }
        mailbox = SocketDoeMailbox.Connect(host, port, out problem, leaveRunning);
        if (mailbox is null) return null;
        var functions = config.Functions.ToArray();
        functions[dsm] = functions[dsm] with { Doe = mailbox, SpdmRoot = root ?? functions[dsm].SpdmRoot };
        return config with { Functions = functions };
    }
}
