using System.Text.Json;

namespace TsmLab.Tests.Cli;

/// <summary>
/// <c>tsmlab abi --platform sev [--json]</c>: the SEV-TIO interfaces from the model's own tables,
/// with the public values of the host driver aik/linux sev-dev-tio.c @ aa4f5cf [S5], its
/// psp-sev.h [S6] and the guest series [S1,S2].
/// </summary>
public sealed class AbiPlatformSevCommandTests
{
    private static JsonElement Named(JsonElement root, string list, string name) =>
        root.GetProperty(list).EnumerateArray().Single(x => x.GetProperty("name").GetString() == name);

    private static (int Offset, int Size) Field(JsonElement s, string name)
    {
        var f = s.GetProperty("fields").EnumerateArray().Single(x => x.GetProperty("name").GetString() == name);
        return (f.GetProperty("offset").GetInt32(), f.GetProperty("size").GetInt32());
    }

    [Fact]
    public void Sev_Json_HasThePinnedRevision_AndThePublicDriversValues()
    {
        var (rc, o, e) = CliRunner.Run("", "abi", "--platform", "sev", "--json");
        Assert.True(rc == 0, e);
        using var doc = JsonDocument.Parse(o);
        var root = doc.RootElement;
        Assert.Equal("sev", root.GetProperty("platform").GetString());
        Assert.Contains("aa4f5cf5c459007d63ab6d0e199978a66de90284", root.GetProperty("revision").GetString());

        var gr = Named(root, "calls", "SEV_CMD_TIO_GUEST_REQUEST");
        Assert.Equal(("PSP", "0xe0"), (gr.GetProperty("interface").GetString(), gr.GetProperty("id").GetString()));
        Assert.Equal("0xdc", Named(root, "calls", "SEV_CMD_TIO_TDI_BIND").GetProperty("id").GetString());
        Assert.Equal("0xe3", Named(root, "calls", "SEV_CMD_TIO_TDI_INFO").GetProperty("id").GetString());
        var exit = Named(root, "calls", "SVM_VMGEXIT_SEV_TIO_GUEST_REQUEST");
        Assert.Equal(("GHCB", "0x80000020"), (exit.GetProperty("interface").GetString(), exit.GetProperty("id").GetString()));
        Assert.Equal("0x13", Named(root, "calls", "TIO_MSG_TDI_INFO_REQ").GetProperty("id").GetString());    // 19 [S1]

        var ret = Named(root, "enums", "sev_ret_code").GetProperty("values");
        Assert.Equal(0x33, ret.GetProperty("SEV_RET_SPDM_ERROR").GetInt32());
        Assert.Equal(0x32, ret.GetProperty("SEV_RET_SPDM_REQUEST").GetInt32());
        Assert.Equal(0x31, ret.GetProperty("SEV_RET_EXPAND_BUFFER_LENGTH_REQUEST").GetInt32());
        Assert.Equal(0x16, ret.GetProperty("SEV_RET_INVALID_PARAM").GetInt32());
        Assert.Equal(10, Named(root, "enums", "mmio_validate_status").GetProperty("values").GetProperty("MMIO_VALIDATE_NOT_4K").GetInt32());
        Assert.Equal(2, Named(root, "enums", "sev_tio_tdi_info_data.tdi_status").GetProperty("values").GetProperty("TDI_BIND_RUN").GetInt32());

        var req = Named(root, "structs", "sev_data_tio_guest_request");
        Assert.Equal(80, req.GetProperty("size").GetInt32());
        Assert.False(req.GetProperty("tsmlab_definition").GetBoolean());
        Assert.Equal((8, 32), Field(req, "spdm_ctrl"));
        Assert.Equal((40, 8), Field(req, "dev_ctx_sla"));
        Assert.Equal((72, 8), Field(req, "res_paddr"));
        var bind = Named(root, "structs", "sev_data_tio_tdi_bind");
        Assert.Equal(72, bind.GetProperty("size").GetInt32());
        Assert.Equal((64, 2), Field(bind, "guest_device_id"));
        Assert.Equal((66, 2), Field(bind, "tdisp_lock_if.flags"));
        Assert.Equal((68, 2), Field(bind, "run (b0)"));
        Assert.Equal(16, Named(root, "structs", "sev_data_tio_init").GetProperty("size").GetInt32());
        Assert.Equal((16, 2), Field(Named(root, "structs", "sev_data_tio_dev_create"), "device_id"));
        Assert.Equal((48, 32), Field(Named(root, "structs", "sev_data_tio_dev_meas"), "meas_nonce"));
        Assert.Equal((20, 8), Field(Named(root, "structs", "sev_data_tio_dev_status"), "status_paddr"));   // packed
        Assert.Equal(0x40, Named(root, "structs", "sla_buffer_hdr").GetProperty("size").GetInt32());
        Assert.Equal((0x35, 1), Field(Named(root, "structs", "snp_guest_msg_hdr"), "msg_version"));

        Assert.True(Named(root, "structs", "sev_tio_guest_req (TsmLab iommufd payload)").GetProperty("tsmlab_definition").GetBoolean());
        Assert.True(Named(root, "structs", "tio_msg_mmio_config_req / _rsp (TsmLab)").GetProperty("tsmlab_definition").GetBoolean());
    }

    [Fact]
    public void Sev_Text_ListsCallsEnumsAndStructs()
    {
        var (rc, o, e) = CliRunner.Run("", "abi", "--platform", "sev");
        Assert.True(rc == 0, e);
        Assert.Contains("SEV_CMD_TIO_DEV_CONNECT", o);
        Assert.Contains("SEV_RET_SPDM_ERROR", o);
        Assert.Contains("sev_data_tio_guest_request", o);
        Assert.Contains("SVM_VMGEXIT_SEV_TIO_OP", o);
    }
}
