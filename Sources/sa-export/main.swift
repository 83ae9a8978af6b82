import SACommon

// Arrives with its own issue; until then the tool states its usage and exits 64.
ToolMain.placeholder(tool: "sa-export", usage: "sa-export [--db FILE --section ID | --config FILE --pending] [--output-dir DIR] [FILE ...]")
