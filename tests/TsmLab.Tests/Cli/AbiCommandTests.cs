using System.Text.Json;

namespace TsmLab.Tests.Cli;

public class AbiCommandTests
{
    [Fact]
    public void Json_DefaultProfile_IsOpArchWith48ByteTsmReq()
    {
        var (rc, o, _) = CliRunner.Run("", "abi", "--json");
        Assert.Equal(0, rc);
        using var doc = JsonDocument.Parse(o);
        Assert.Equal("op-arch", doc.RootElement.GetProperty("profile").GetString());
        var req = doc.RootElement.GetProperty("ioctls").EnumerateArray().Single(i => i.GetProperty("name").GetString() == "IOMMU_VDEVICE_TSM_REQ");
        Assert.Equal("0x3b96", req.GetProperty("number").GetString());
        Assert.Equal("iommu_vdevice_tsm_req", req.GetProperty("struct").GetString());
        Assert.Equal(48, req.GetProperty("size").GetInt32());
        Assert.Equal(48, req.GetProperty("min_size").GetInt32());
        Assert.Equal(["name", "number", "struct", "size", "min_size", "fields"], req.EnumerateObject().Select(p => p.Name));
        var f0 = req.GetProperty("fields")[0];
        Assert.Equal(("size", 0, 4), (f0.GetProperty("name").GetString(), f0.GetProperty("offset").GetInt32(), f0.GetProperty("size").GetInt32()));
        var code = req.GetProperty("fields").EnumerateArray().Single(f => f.GetProperty("name").GetString() == "tsm_code");
        Assert.Equal(40, code.GetProperty("offset").GetInt32());
    }

    [Fact]
    public void Json_ScopeProfile_Has40ByteTsmReqWithReserved()
    {
        var (rc, o, _) = CliRunner.Run("", "abi", "--profile", "scope", "--json");
        Assert.Equal(0, rc);
        using var doc = JsonDocument.Parse(o);
        Assert.Equal("scope", doc.RootElement.GetProperty("profile").GetString());
        var req = doc.RootElement.GetProperty("ioctls").EnumerateArray().Single(i => i.GetProperty("name").GetString() == "IOMMU_VDEVICE_TSM_REQ");
        Assert.Equal(40, req.GetProperty("size").GetInt32());
        Assert.Contains(req.GetProperty("fields").EnumerateArray(), f => f.GetProperty("name").GetString() == "__reserved" && f.GetProperty("offset").GetInt32() == 20);
    }

    [Fact]
    public void Json_ListsEveryModelledIoctlIncludingDiscovery()
    {
        var (_, o, _) = CliRunner.Run("", "abi", "--json");
        using var doc = JsonDocument.Parse(o);
        var names = doc.RootElement.GetProperty("ioctls").EnumerateArray().Select(i => i.GetProperty("name").GetString()).ToList();
        Assert.Equal(
            ["IOMMU_DESTROY", "IOMMU_IOAS_ALLOC", "IOMMU_IOAS_ALLOW_IOVAS", "IOMMU_IOAS_COPY", "IOMMU_IOAS_IOVA_RANGES",
             "IOMMU_IOAS_MAP", "IOMMU_IOAS_UNMAP", "IOMMU_OPTION", "IOMMU_VFIO_IOAS", "IOMMU_HWPT_ALLOC", "IOMMU_GET_HW_INFO", "IOMMU_HWPT_SET_DIRTY_TRACKING", "IOMMU_HWPT_GET_DIRTY_BITMAP",
             "IOMMU_HWPT_INVALIDATE", "IOMMU_FAULT_QUEUE_ALLOC", "IOMMU_IOAS_MAP_FILE", "IOMMU_VIOMMU_ALLOC", "IOMMU_VDEVICE_ALLOC",
             "IOMMU_IOAS_CHANGE_PROCESS", "IOMMU_VEVENTQ_ALLOC", "IOMMU_HW_QUEUE_ALLOC", "IOMMU_VDEVICE_TSM_OP",
             "IOMMU_VDEVICE_TSM_REQ", "IOMMU_VDEVICE_TSM_INFO", "VFIO_IOMMU_GET_INFO", "VFIO_IOMMU_MAP_DMA", "VFIO_IOMMU_UNMAP_DMA", "VFIO_DEVICE_BIND_IOMMUFD", "VFIO_DEVICE_ATTACH_IOMMUFD_PT",
             "KVM_CREATE_VM", "KVM_CREATE_DEVICE", "KVM_SET_DEVICE_ATTR"], names);
        var info = doc.RootElement.GetProperty("ioctls").EnumerateArray().Single(i => i.GetProperty("name").GetString() == "IOMMU_VDEVICE_TSM_INFO");
        Assert.Equal("0x3be0", info.GetProperty("number").GetString());
        Assert.Equal(56, info.GetProperty("size").GetInt32());
    }

    [Fact]
    public void Text_ShowsNumbersAndFields()
    {
        var (rc, o, _) = CliRunner.Run("", "abi");
        Assert.Equal(0, rc);
        Assert.Contains("IOMMU_VDEVICE_TSM_REQ 0x3b96", o);
        Assert.Contains("tsm_code", o);
    }

    [Fact]
    public void UnknownProfile_Exits2WithOneLine()
    {
        var (rc, o, e) = CliRunner.Run("", "abi", "--profile", "v9");
        Assert.Equal(2, rc);
        Assert.Equal("", o);
        Assert.Single(e.Trim().Split('\n'));
        Assert.Contains("op-arch or scope", e);
    }

    [Fact]
    public void UnknownOption_Exits2()
    {
        var (rc, _, e) = CliRunner.Run("", "abi", "--bogus");
        Assert.Equal(2, rc);
        Assert.Contains("--bogus", e);
    }
}
