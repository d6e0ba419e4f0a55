namespace TsmLab.Platforms;

/// <summary>
/// The registered platforms: the one list in <c>src/</c> that names a platform's types. The demo,
/// the built-in hosts, host files and the CLI loop over it. Adding a platform is a folder under
/// <c>Platforms/</c> plus one line here (docs/design.md, "Adding a platform"); tests may register
/// further platforms with <see cref="Register"/>. Thread safety: registration takes a lock and
/// publishes a new immutable list.
/// </summary>
public static class PlatformRegistry
{
    private static readonly Lock Gate = new();
    private static IReadOnlyList<IPlatform> all =
    [
        new Cca.CcaPlatform(),
        new SevTio.SevTioPlatform(),
        new Tdx.TdxPlatform(),
    ];

    /// <summary>Every registered platform, in registration order.</summary>
    public static IReadOnlyList<IPlatform> All => all;

    /// <summary>The platform with that short name, or null.</summary>
    public static IPlatform? Find(string name) => all.FirstOrDefault(p => p.Name == name);

    /// <summary>Registers a further platform (a test platform); a second platform of the same name replaces the first.</summary>
    public static void Register(IPlatform platform)
    {
        ArgumentNullException.ThrowIfNull(platform);
        lock (Gate) all = [.. all.Where(p => p.Name != platform.Name), platform];
    }

    /// <summary>Removes the platform with that name (a test platform when its test ends); false when there was none.</summary>
    public static bool Unregister(string name)
    {
        lock (Gate)
        {
            int before = all.Count;
            all = [.. all.Where(p => p.Name != name)];
            return all.Count != before;
        }
    }
}
