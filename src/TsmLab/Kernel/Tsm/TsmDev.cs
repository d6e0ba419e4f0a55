namespace TsmLab.Kernel.Tsm;

/// <summary>
/// A registered TSM (<c>struct tsm_dev</c>, drivers/virt/coco/tsm-core.c): class device
/// <c>tsmN</c> with an IDA id, its parent (the platform device) and its link ops.
/// </summary>
public sealed class TsmDev
{
    internal TsmDev(int id, string parent, ILinkTsmPlatform platform)
    {
        Id = id;
        Parent = parent;
        Platform = platform;
    }

    public int Id { get; }
    /// <summary>"tsmN".</summary>
    public string Name => $"tsm{Id}";
    /// <summary>The parent device's name (e.g. the PSP's PCI function or "arm-cca-host").</summary>
    public string Parent { get; }
    public ILinkTsmPlatform Platform { get; }
    /// <summary>Only link TSMs are modelled on the host; devsec TSMs live in guests.</summary>
    public bool IsLink => true;
    public bool Registered { get; internal set; } = true;
}
