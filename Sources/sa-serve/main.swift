import SACommon

// Arrives with its own issue; until then the tool states its usage and exits 64.
ToolMain.placeholder(tool: "sa-serve", usage: "sa-serve --config FILE | --db FILE.sqlite")
