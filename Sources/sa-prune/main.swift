import SACommon

// Arrives with its own issue; until then the tool states its usage and exits 64.
ToolMain.placeholder(tool: "sa-prune", usage: "sa-prune --config FILE [--show NAME ...] [--dry-run] | --db FILE")
