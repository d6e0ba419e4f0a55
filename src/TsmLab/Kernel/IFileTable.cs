namespace TsmLab.Kernel;

/// <summary>
/// A file-descriptor table the kernel model does not own: a real program's, under
/// <c>tsmlab run</c>. The model looks descriptors up in it (fget) and installs new files in it
/// (KVM_CREATE_VM, KVM_CREATE_DEVICE) through this interface; dup, close and exec are the real
/// kernel's business there.
/// </summary>
public interface IFileTable
{
    /// <summary>The file behind <paramref name="fd"/> without a new reference, or null when the descriptor is not open.</summary>
    KernelFile? Lookup(int fd);

    /// <summary>Installs a file the caller holds a reference to (the reference moves to the table): the new fd, or -errno.</summary>
    int Install(KernelFile file);

    /// <summary>
    /// IOMMU_IOAS_MAP_FILE on a real file outside the model: a pin source over it from
    /// <paramref name="startDown"/> (holding the file until disposed), or null when the fd is not open.
    /// </summary>
    Iommufd.IPinSource? FilePinSource(int fd, ulong startDown) => null;
}
