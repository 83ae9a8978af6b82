import SACommon

// Arrives with its own issue; until then the tool states its usage and exits 64.
ToolMain.placeholder(tool: "sa-pull", usage: "sa-pull --config FILE [--keep-going] [--replace-source SHOW]")
