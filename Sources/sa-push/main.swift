import SACommon

// Arrives with its own issue; until then the tool states its usage and exits 64.
ToolMain.placeholder(tool: "sa-push", usage: "sa-push --config FILE [FILE ...]")
