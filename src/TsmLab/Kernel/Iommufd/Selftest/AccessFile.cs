using TsmLab.Abi;

namespace TsmLab.Kernel.Iommufd.Selftest;

/// <summary>
/// The mock driver's access file, <c>anon_inode:[iommufd_test_staccess]</c> (<c>struct
/// selftest_access</c> in drivers/iommu/iommufd/selftest.c [LI10]): the fd CREATE_ACCESS installs,
/// by which the ACCESS_* ops name the access. It owns an <see cref="IommufdAccess"/> and the
/// page ranges pinned through it (items with ids from 0). Its unmap callback drops every item that
/// meets the range; closing the last copy of the fd drops all of them and destroys the access.
/// Holds a reference to the iommufd (<c>iommufd_ctx_get</c>) while the access exists.
/// <para>Thread safety: <see cref="Gate"/> (<c>staccess->lock</c>) guards the items; it is taken
/// before the access's own lock.</para>
/// </summary>
internal sealed class AccessFile : KernelFile, IAccessOps
{
    private readonly List<Item> items = new();
    private uint nextId;
    private IommufdContext? context;

    public AccessFile(bool needsPinPages) => NeedsPinPages = needsPinPages;

    public override string Name => "anon_inode:[iommufd_test_staccess]";
    public bool NeedsPinPages { get; }

    /// <summary>The access, set once CREATE_ACCESS succeeded.</summary>
    public IommufdAccess? Access { get; private set; }

    internal Lock Gate { get; } = new();

    /// <summary>One ACCESS_PAGES range (<c>struct selftest_access_item</c>).</summary>
    private sealed record Item(uint Id, ulong Iova, ulong Length, List<AccessPin> Pins);

    /// <summary>Ranges pinned now (observation for tests).</summary>
    public int ItemCount
    {
        get { lock (Gate) return items.Count; }
    }

    /// <summary>CREATE_ACCESS succeeded: the file keeps the access and the iommufd.</summary>
    internal void Own(IommufdAccess access)
    {
        access.Context.Get();
        context = access.Context;
        Access = access;
    }

    /// <summary>Records a pinned range under the next id (caller holds <see cref="Gate"/>).</summary>
    internal uint AddItem(ulong iova, ulong length, List<AccessPin> pins)
    {
        uint id = nextId++;
        items.Add(new Item(id, iova, length, pins));
        return id;
    }

    /// <summary>Undoes <see cref="AddItem"/> when the answer could not be written (caller holds <see cref="Gate"/>).</summary>
    internal void RemoveItem(uint id) => items.RemoveAll(i => i.Id == id);

    /// <summary>DESTROY_ACCESS_PAGES: unpins the item; ENOENT when there is none of that id.</summary>
    internal int DestroyItem(uint id)
    {
        lock (Gate)
        {
            int i = items.FindIndex(x => x.Id == id);
            if (i < 0) return Errno.ENOENT.Neg();
            var item = items[i];
            items.RemoveAt(i);
            Access!.UnpinPages(item.Pins);
            return 0;
        }
    }

    /// <summary><c>iommufd_test_access_unmap</c>: every item meeting [iova, iova + length - 1] is unpinned and dropped.</summary>
    public void Unmap(ulong iova, ulong length)
    {
        ulong last = iova + (length - 1);
        lock (Gate)
        {
            for (int i = 0; i < items.Count;)
            {
                var item = items[i];
                if (iova > item.Iova + (item.Length - 1) || last < item.Iova) { i++; continue; }
                items.RemoveAt(i);
                Access?.UnpinPages(item.Pins);
            }
        }
    }

    /// <summary>The last copy of the fd closed (<c>iommufd_test_staccess_release</c>).</summary>
    protected override void Release()
    {
        if (Access is { } access)
        {
            Unmap(0, ulong.MaxValue);
            access.Destroy();
            Access = null;
        }
        context?.Put();
        context = null;
    }
}
