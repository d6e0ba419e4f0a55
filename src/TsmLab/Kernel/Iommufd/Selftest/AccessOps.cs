using System.Buffers.Binary;
using TsmLab.Abi;

namespace TsmLab.Kernel.Iommufd.Selftest;

/// <summary>
/// The mock driver's access ops of <c>IOMMU_TEST_CMD</c> (selftest.c's
/// <c>iommufd_test_create_access</c> and the ops on its fd [LI10]): CREATE_ACCESS,
/// DESTROY_ACCESS_PAGES, ACCESS_PAGES, ACCESS_RW and ACCESS_REPLACE_IOAS. cmd->id of every op but
/// CREATE_ACCESS is an fd in the caller's table; one that is not open or not an access file is
/// EBADFD. Rows in <see cref="TestCmd"/>'s op table.
/// </summary>
internal static class AccessOps
{
    /// <summary>
    /// CREATE_ACCESS: a flag other than NEEDS_PIN_PAGES EOPNOTSUPP; the access takes the next id
    /// and attaches to cmd->id (ENOENT for no IOAS, EADDRINUSE when an area does not fit its
    /// alignment); the file is installed O_CLOEXEC (no free fd: ENOMEM, as selftest.c maps it) and
    /// its number written to out_access_fd. The kernel writes the answer before it installs the fd;
    /// the model must install first to learn the number, so when the answer cannot be written
    /// (EFAULT) the fd stays open holding the access (TsmLab definition).
    /// </summary>
    public static int Create(ref IommufdUcmd u)
    {
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuTestCmd.CreateAccessFlags..]);
        if ((flags & ~IommuTestCmd.AccessCreateNeedsPinPages) != 0) return Errno.EOPNOTSUPP.Neg();
        var file = new AccessFile((flags & IommuTestCmd.AccessCreateNeedsPinPages) != 0);
        var access = IommufdAccess.Create(u.Context, file);
        int rc = access.Attach(BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuTestCmd.Id..]));
        if (rc < 0)
        {
            access.Destroy();
            file.Put();
            return rc;
        }
        file.Own(access);
        int fd = u.Caller.InstallFd(file);
        if (fd < 0)
        {
            file.Put(); // destroys the access
            return Errno.ENOMEM.Neg();
        }
        BinaryPrimitives.WriteUInt32LittleEndian(u.Cmd[IommuTestCmd.CreateAccessOutFd..], (uint)fd);
        return u.Respond(IommuTestCmd.SizeOf);
    }

    /// <summary>DESTROY_ACCESS_PAGES: EBADFD; ENOENT for an access_pages_id the access does not hold; else unpinned.</summary>
    public static int DestroyPages(ref IommufdUcmd u)
    {
        var file = Get(ref u, out int rc);
        if (file is null) return rc;
        try { return file.DestroyItem(BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuTestCmd.DestroyAccessPagesId..])); }
        finally { file.Put(); }
    }

    /// <summary>ACCESS_REPLACE_IOAS: EBADFD; then <see cref="IommufdAccess.Replace"/> (ENOENT, EBUSY, EADDRINUSE); the old IOAS's pins are dropped by the unmap callback.</summary>
    public static int ReplaceIoas(ref IommufdUcmd u)
    {
        var file = Get(ref u, out int rc);
        if (file is null) return rc;
        try { return file.Access!.Replace(BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuTestCmd.AccessReplaceIoasId..])); }
        finally { file.Put(); }
    }

    /// <summary>
    /// ACCESS_PAGES (<c>iommufd_test_access_pages</c>): length above 16 MiB ENOMEM; a flag other
    /// than WRITE and SYZ EOPNOTSUPP; EBADFD; an access made without NEEDS_PIN_PAGES EOPNOTSUPP;
    /// then the pin (<see cref="IommufdAccess.PinPages"/>: EINVAL, EOVERFLOW, ENOENT, EPERM,
    /// EFAULT, ENOMEM); with uptr non-zero, each pinned page must be the caller's page at uptr
    /// (moved back by iova's page offset): EFAULT when that page is not mapped, EBADE when it is
    /// other memory (the model compares what it knows of the memory, as MD_CHECK_MAP does). The
    /// item's id goes to out_access_pages_id (EFAULT undoes the pin). SYZ's IOVA translation (for
    /// syzkaller) is not modelled: the IOVA is used as given (TsmLab definition).
    /// </summary>
    public static int Pages(ref IommufdUcmd u)
    {
        ulong iova = BinaryPrimitives.ReadUInt64LittleEndian(u.Cmd[IommuTestCmd.AccessPagesIova..]);
        ulong length = BinaryPrimitives.ReadUInt64LittleEndian(u.Cmd[IommuTestCmd.AccessPagesLength..]);
        ulong uptr = BinaryPrimitives.ReadUInt64LittleEndian(u.Cmd[IommuTestCmd.AccessPagesUptr..]);
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuTestCmd.AccessPagesFlags..]);
        if (length > IommuTestCmd.AccessMaxLength) return Errno.ENOMEM.Neg();
        if ((flags & ~(IommuTestCmd.AccessFlagWrite | IommuTestCmd.AccessFlagSyz)) != 0) return Errno.EOPNOTSUPP.Neg();
        var file = Get(ref u, out int rc);
        if (file is null) return rc;
        try
        {
            if (!file.NeedsPinPages) return Errno.EOPNOTSUPP.Neg();
            var access = file.Access!;
            lock (file.Gate)
            {
                var pins = new List<AccessPin>();
                rc = access.PinPages(iova, length, (flags & IommuTestCmd.AccessFlagWrite) != 0, pins);
                if (rc < 0) return rc;
                if (uptr != 0) rc = CheckPages(u.Caller, access, iova, length, uptr);
                if (rc == 0)
                {
                    uint id = file.AddItem(iova, length, pins);
                    BinaryPrimitives.WriteUInt32LittleEndian(u.Cmd[IommuTestCmd.AccessPagesOutId..], id);
                    rc = u.Respond(IommuTestCmd.SizeOf);
                    if (rc == 0) return 0;
                    file.RemoveItem(id);
                }
                access.UnpinPages(pins);
                return rc;
            }
        }
        finally { file.Put(); }
    }

    /// <summary><c>iommufd_test_check_pages</c> over the pinned range, page by page.</summary>
    private static int CheckPages(Process caller, IommufdAccess access, ulong iova, ulong length, ulong uptr)
    {
        const ulong page = AddressSpace.PageSize;
        ulong down = iova & ~(page - 1);
        ulong npages = ((iova + length + page - 1) & ~(page - 1)) - down;
        npages /= page;
        ulong user = uptr - (iova - down);
        var iopt = access.Ioas?.Iopt;
        if (iopt is null) return Errno.ENOENT.Neg();
        for (ulong i = 0; i < npages; i++, user += page)
        {
            int rc = caller.UserMemory.CheckPinnable(user & ~(page - 1), page, write: false);
            if (rc < 0) return rc;
            ulong at = Math.Max(iova, down + i * page);
            var area = iopt.Find(at);
            if (area is null || !TestCmd.SameMemory(caller, area, at, user + (at - (down + i * page)))) return Errno.EBADE.Neg();
        }
        return 0;
    }

    /// <summary>
    /// ACCESS_RW (<c>iommufd_test_access_rw</c>): length above 16 MiB ENOMEM; a flag other than
    /// WRITE, SLOW_PATH and SYZ EOPNOTSUPP; EBADFD; for a write the caller's buffer is read first
    /// (EFAULT); then <see cref="IommufdAccess.Rw"/> (EINVAL for length 0, EOVERFLOW, ENOENT,
    /// EPERM, EFAULT); for a read the bytes go to the caller's buffer (EFAULT). SLOW_PATH only
    /// chooses the kernel's copy method: the model's is the same either way.
    /// </summary>
    public static int Rw(ref IommufdUcmd u)
    {
        ulong iova = BinaryPrimitives.ReadUInt64LittleEndian(u.Cmd[IommuTestCmd.AccessRwIova..]);
        ulong length = BinaryPrimitives.ReadUInt64LittleEndian(u.Cmd[IommuTestCmd.AccessRwLength..]);
        ulong uptr = BinaryPrimitives.ReadUInt64LittleEndian(u.Cmd[IommuTestCmd.AccessRwUptr..]);
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuTestCmd.AccessRwFlags..]);
        if (length > IommuTestCmd.AccessMaxLength) return Errno.ENOMEM.Neg();
        if ((flags & ~(IommuTestCmd.AccessRwWrite | IommuTestCmd.AccessRwSlowPath | IommuTestCmd.AccessFlagSyz)) != 0) return Errno.EOPNOTSUPP.Neg();
        var file = Get(ref u, out int rc);
        if (file is null) return rc;
        try
        {
            bool write = (flags & IommuTestCmd.AccessRwWrite) != 0;
            var buffer = new byte[length];
            if (write && u.Caller.UserMemory.CopyFromUser(buffer, uptr) < 0) return Errno.EFAULT.Neg();
            rc = file.Access!.Rw(iova, buffer, write);
            if (rc < 0) return rc;
            if (!write && u.Caller.UserMemory.CopyToUser(uptr, buffer) < 0) return Errno.EFAULT.Neg();
            return 0;
        }
        finally { file.Put(); }
    }

    /// <summary><c>iommufd_access_get</c>: the access file behind cmd->id with a reference, or null with EBADFD.</summary>
    private static AccessFile? Get(ref IommufdUcmd u, out int rc)
    {
        rc = Errno.EBADFD.Neg();
        var f = u.Caller.Fget((int)BinaryPrimitives.ReadUInt32LittleEndian(u.Cmd[IommuTestCmd.Id..]));
        if (f is AccessFile { Access: not null } file) return file;
        f?.Put();
        return null;
    }
}
