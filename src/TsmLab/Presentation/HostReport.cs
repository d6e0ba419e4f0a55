using System.Text;
using System.Text.Json;
using TsmLab.Abi;
using TsmLab.Tdisp.Wire;
using TsmLab.Kernel;
using TsmLab.Kernel.Iommufd;
using TsmLab.Kernel.Tsm;

namespace TsmLab.Presentation;

/// <summary>
/// What <c>tsmlab info</c> shows of a host: the machine, its TSMs, its PCI functions with their
/// sysfs TSM attributes and VFIO nodes, the KVM VMs, and every iommufd object with its
/// relations, TDI state and rejection counters. Rendered as a tree or as JSON.
/// </summary>
public static class HostReport
{
    /// <summary>The tree form.</summary>
    public static string Tree(HostKernel k)
    {
        var sb = new StringBuilder();
        var c = k.Configuration;
        sb.AppendLine($"host {c.Name}: {c.Arch}, IOMMU {c.Iommu.Name}, TSM_REQ profile {c.Profile.Name()}");
        if (c.Description.Length > 0) sb.AppendLine($"  {c.Description}");
        sb.AppendLine("├─ TSMs (/sys/class/tsm)");
        var tsms = k.Tsm.Devices.ToList();
        if (tsms.Count == 0) sb.AppendLine("│  └─ (none registered)");
        for (int i = 0; i < tsms.Count; i++)
        {
            var t = tsms[i];
            sb.AppendLine($"│  {(i == tsms.Count - 1 ? "└─" : "├─")} {t.Name}: parent {t.Parent}, platform {t.Platform.Name}, arch {t.Platform.Arch}, link TSM");
        }
        sb.AppendLine("├─ TSM_REQ numbers across TSMs (which backends received each; docs/proposal.md)");
        var uses = TsmNumberUse.Of(k.Tsm);
        if (uses.Count == 0) sb.AppendLine("│  └─ (no request reached a TSM backend)");
        for (int i = 0; i < uses.Count; i++) sb.AppendLine($"│  {Branch(i == uses.Count - 1)} {DescribeUse(uses[i])}");
        sb.AppendLine("├─ PCI functions");
        foreach (var fn in k.Functions)
        {
            var vfio = k.VfioDevices.FirstOrDefault(v => ReferenceEquals(v.Function, fn));
            sb.AppendLine($"│  {Branch(fn == k.Functions[^1])} {fn.Address} [{fn.VendorId:x4}:{fn.DeviceId:x4}]{(fn.IsDsm ? " DSM" : "")}{(fn.TeeCapable ? " TDISP" : "")}{(vfio is null ? "" : " " + vfio.Path)}");
            if (fn.IsDsm && fn.ConnectedTsm is null && fn.ConnectFailure is { } why)
                sb.AppendLine($"│  {(fn == k.Functions[^1] ? " " : "│")}  └─ connect failed: {why}");
            if (fn.Tdi is { } tdi)
                sb.AppendLine($"│  {(fn == k.Functions[^1] ? " " : "│")}  └─ TDI bound by {tdi.Tsm.Name} to {tdi.Vm}, guest RID 0x{tdi.VirtId:x}, state {k.Tsm.StateOf(fn)}");
        }
        sb.AppendLine("├─ sysfs");
        var paths = k.Sysfs.Paths().ToList();
        if (paths.Count == 0) sb.AppendLine("│  └─ (no TSM attributes: no TSM registered)");
        foreach (var path in paths)
        {
            string line = path.StartsWith("/sys/class/", StringComparison.Ordinal) ? path
                : k.Sysfs.Read(path, out var v) == 0 ? $"{path} = {Shown(v)}" : $"{path} (write-only)";
            sb.AppendLine($"│  {Branch(path == paths[^1])} {line}");
        }
        sb.AppendLine("├─ KVM VMs");
        var vms = k.Vms.ToList();
        if (vms.Count == 0) sb.AppendLine("│  └─ (none)");
        foreach (var vm in vms) sb.AppendLine($"│  {Branch(vm == vms[^1])} {vm}: type 0x{vm.Type:x}, arch {vm.Arch}");
        sb.AppendLine("└─ iommufd contexts");
        var contexts = k.IommufdContexts;
        if (contexts.Count == 0) sb.AppendLine("   └─ (none open)");
        for (int n = 0; n < contexts.Count; n++)
        {
            bool lastCtx = n == contexts.Count - 1;
            sb.AppendLine($"   {Branch(lastCtx)} context {n}");
            var objects = contexts[n].Objects.ToList();
            foreach (var o in objects) sb.AppendLine($"   {(lastCtx ? " " : "│")}  {Branch(o == objects[^1])} {Describe(k, o)}");
        }
        return sb.ToString();
    }

    /// <summary>The JSON form.</summary>
    public static string Json(HostKernel k)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            var c = k.Configuration;
            w.WriteStartObject();
            w.WriteStartObject("host");
            w.WriteString("name", c.Name);
            w.WriteString("arch", c.Arch.ToString());
            w.WriteString("iommu", c.Iommu.Name);
            w.WriteString("profile", c.Profile.Name());
            w.WriteEndObject();
            w.WriteStartArray("tsms");
            foreach (var t in k.Tsm.Devices)
            {
                w.WriteStartObject();
                w.WriteString("name", t.Name);
                w.WriteString("parent", t.Parent);
                w.WriteString("platform", t.Platform.Name);
                w.WriteString("arch", t.Platform.Arch.ToString());
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("tsm_req_numbers");
            foreach (var use in TsmNumberUse.Of(k.Tsm))
            {
                w.WriteStartObject();
                w.WriteString("profile", use.Profile.Name());
                w.WriteString(use.Profile == TsmAbiProfile.Scope ? "scope" : "op", use.Name);
                w.WriteNumber("number", use.Number);
                if (use.Profile == TsmAbiProfile.OpArch) w.WriteString("arch", use.Arch.ToString());
                w.WriteNumber("meanings", use.Meanings);
                w.WriteBoolean("aliased", use.Aliased);
                w.WriteNumber("aliased_requests", use.AliasedRequests);
                w.WriteStartObject("requests");
                foreach (var server in use.Servers) w.WriteNumber(server.Tsm.Name, server.Requests);
                w.WriteEndObject();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("functions");
            foreach (var fn in k.Functions)
            {
                w.WriteStartObject();
                w.WriteString("bdf", fn.Address.ToString());
                w.WriteString("vendor", $"0x{fn.VendorId:x4}");
                w.WriteString("device", $"0x{fn.DeviceId:x4}");
                w.WriteBoolean("tdisp", fn.TeeCapable);
                w.WriteString("dsm", fn.Dsm.Address.ToString());
                var vfio = k.VfioDevices.FirstOrDefault(v => ReferenceEquals(v.Function, fn));
                if (vfio is null) w.WriteNull("vfio"); else w.WriteString("vfio", vfio.Path);
                if (fn.ConnectedTsm is { } t) w.WriteString("connected", t.Name); else w.WriteNull("connected");
                if (fn.IsDsm && fn.ConnectFailure is { } why) w.WriteString("connect_failure", why);
                if (fn.Tdi is { } tdi)
                {
                    w.WriteStartObject("tdi");
                    w.WriteString("tsm", tdi.Tsm.Name);
                    w.WriteString("vm", tdi.Vm.ToString());
                    w.WriteString("guest_rid", $"0x{tdi.VirtId:x}");
                    w.WriteString("state", k.Tsm.StateOf(fn).ToString());
                    w.WriteEndObject();
                }
                else w.WriteNull("tdi");
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartObject("sysfs");
            foreach (var path in k.Sysfs.Paths())
            {
                if (k.Sysfs.Read(path, out var v) == 0) w.WriteString(path, v.TrimEnd('\n'));
                else w.WriteNull(path);
            }
            w.WriteEndObject();
            w.WriteStartArray("vms");
            foreach (var vm in k.Vms)
            {
                w.WriteStartObject();
                w.WriteString("name", vm.ToString());
                w.WriteString("type", $"0x{vm.Type:x}");
                w.WriteString("arch", vm.Arch.ToString());
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("iommufd");
            foreach (var ctx in k.IommufdContexts)
            {
                w.WriteStartArray();
                foreach (var o in ctx.Objects) WriteObject(k, w, o);
                w.WriteEndArray();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    /// <summary>"scope PCI_STATE_CHANGE: tsm0 2, tsm1 1 — ALIASED, 2 meanings (3 requests)".</summary>
    private static string DescribeUse(TsmNumberUse use)
    {
        string servers = string.Join(", ", use.Servers.Select(s => $"{s.Tsm.Name} {s.Requests}"));
        string what = use.Profile == TsmAbiProfile.Scope ? $"scope {use.Name} ({use.Number})" : $"op {use.Name} ({use.Number}) tvm_arch {use.Arch}";
        string verdict = use.Aliased
            ? $"ALIASED: {use.Meanings} meanings, one per TSM's payload grammar ({use.AliasedRequests} requests)"
            : use.Profile == TsmAbiProfile.Scope ? "one TSM, one meaning" : "one meaning, defined by the uAPI for (op, tvm_arch)";
        return $"{what}: {servers} — {verdict}";
    }

    private static string Branch(bool last) => last ? "└─" : "├─";

    private static string Shown(string v) => v == "\n" ? "(empty)" : v.TrimEnd('\n');

    private static string Describe(HostKernel k, IommufdObject o) => o switch
    {
        IommufdDevice d => $"{o.Id} device {d.DisplayName}, kvm {d.Kvm?.ToString() ?? "none"}, attached {d.Attached?.Id.ToString() ?? "none"}, users {o.Users}",
        Ioas i => $"{o.Id} ioas, {i.Iopt.Areas.Count} area(s) of 0x{MappedBytes(i):x} bytes, {PinnedPages(i)} page(s) pinned, alignment 0x{i.Iopt.IovaAlignment:x}, users {o.Users}",
        HwPagetable h => $"{o.Id} hwpt_paging on ioas {h.Ioas.Id}{(h.NestParent ? ", nest parent" : "")}{(h.AutoDomain ? ", auto domain" : "")}, users {o.Users}",
        HwptNested n => $"{o.Id} hwpt_nested on {(n.Viommu is { } nv ? $"viommu {nv.Id}" : $"hwpt {n.Parent.Id}")}, users {o.Users}",
        FaultQueue f => $"{o.Id} fault queue, {f.Pending} pending, {f.AwaitingResponse} awaiting a response, users {o.Users}",
        Veventq q => $"{o.Id} veventq type 0x{q.EventType:x} depth {q.Depth} on viommu {q.Viommu.Id}, users {o.Users}",
        HwQueue q => $"{o.Id} hw_queue {q.Index} on viommu {q.Viommu.Id} at iova 0x{q.BaseAddr:x}, users {o.Users}",
        Viommu v => $"{o.Id} viommu type {v.ViommuType} on hwpt {v.Hwpt.Id}, {v.Kvm?.ToString() ?? "no kvm"}, users {o.Users}",
        Vdevice v => $"{o.Id} vdevice virt_id 0x{v.VirtId:x} of device {v.Idev.Id} on viommu {v.Viommu.Id}: " +
                     $"{(v.TsmBound ? "bound, TDI " + k.Tsm.StateOf(v.Function) : "not bound")}, rejections {v.TotalRejections}{RejectionList(v)}, uncertain {v.UncertainCompletions}",
        _ => $"{o.Id} {o.Type}",
    };

    private static ulong MappedBytes(Ioas i) => i.Iopt.Areas.Aggregate(0ul, (n, a) => n + a.Length);

    /// <summary>Pages pinned for the IOAS's areas (pages shared with a copy in another IOAS count here too).</summary>
    private static long PinnedPages(Ioas i) => i.Iopt.Areas.Select(a => a.Pages).Distinct().Sum(p => p.Pinned);

    private static string RejectionList(Vdevice v)
    {
        var parts = Enum.GetValues<TsmRejection>().Where(r => r != TsmRejection.None && v.Rejections(r) > 0).Select(r => $"{r} {v.Rejections(r)}").ToList();
        return parts.Count == 0 ? "" : " (" + string.Join(", ", parts) + ")";
    }

    private static void WriteObject(HostKernel k, Utf8JsonWriter w, IommufdObject o)
    {
        w.WriteStartObject();
        w.WriteNumber("id", o.Id);
        w.WriteString("type", o.Type switch
        {
            IommufdObjectType.Device => "device",
            IommufdObjectType.Ioas => "ioas",
            IommufdObjectType.HwptPaging => "hwpt_paging",
            IommufdObjectType.Viommu => "viommu",
            IommufdObjectType.Selftest => "selftest",
            IommufdObjectType.HwptNested => "hwpt_nested",
            IommufdObjectType.Access => "access",
            IommufdObjectType.Fault => "fault",
            IommufdObjectType.Veventq => "veventq",
            IommufdObjectType.HwQueue => "hw_queue",
            _ => "vdevice",
        });
        w.WriteNumber("users", o.Users);
        switch (o)
        {
            case IommufdDevice d:
                if (d.Function is { } fn)
                {
                    w.WriteString("function", fn.Address.ToString());
                    w.WriteString("file", d.File!.Name);
                }
                else w.WriteString("mock", d.Mock!.Name);
                if (d.Kvm is null) w.WriteNull("kvm"); else w.WriteString("kvm", d.Kvm.ToString());
                if (d.Attached is null) w.WriteNull("attached"); else w.WriteNumber("attached", d.Attached.Id);
                break;
            case Ioas i:
                w.WriteNumber("areas", i.Iopt.Areas.Count);
                w.WriteNumber("mapped_bytes", MappedBytes(i));
                w.WriteNumber("pinned_pages", PinnedPages(i));
                w.WriteNumber("iova_alignment", i.Iopt.IovaAlignment);
                break;
            case HwPagetable h:
                w.WriteNumber("ioas", h.Ioas.Id);
                w.WriteBoolean("nest_parent", h.NestParent);
                w.WriteBoolean("auto_domain", h.AutoDomain);
                break;
            case Viommu v:
                w.WriteNumber("viommu_type", v.ViommuType);
                w.WriteNumber("hwpt", v.Hwpt.Id);
                if (v.Kvm is null) w.WriteNull("kvm"); else w.WriteString("kvm", v.Kvm.ToString());
                break;
            case Vdevice v:
                w.WriteString("virt_id", $"0x{v.VirtId:x}");
                w.WriteNumber("device", v.Idev.Id);
                w.WriteNumber("viommu", v.Viommu.Id);
                w.WriteBoolean("tsm_bound", v.TsmBound);
                w.WriteString("tdi_state", (v.TsmBound ? k.Tsm.StateOf(v.Function) : TdiState.ConfigUnlocked).ToString());
                w.WriteNumber("uncertain_completions", v.UncertainCompletions);
                w.WriteStartObject("rejections");
                foreach (var r in Enum.GetValues<TsmRejection>())
                    if (r != TsmRejection.None) w.WriteNumber(r.ToString(), v.Rejections(r));
                w.WriteEndObject();
                break;
        }
        w.WriteEndObject();
    }
}
