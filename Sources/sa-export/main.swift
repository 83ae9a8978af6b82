import SACommon

// Arrives with its own issue; until then the tool states its usage and exits 64.
if CommandLine.arguments.contains("--version") {
    print(ToolInfo.version)
} else if CommandLine.arguments.contains("--help") || CommandLine.arguments.contains("-h") {
    ToolMain.printUsage("sa-export [--db FILE --section ID | --config FILE --pending] [--output-dir DIR] [FILE ...]")
} else {
    ToolMain.notYetAvailable(tool: "sa-export", usage: "sa-export [--db FILE --section ID | --config FILE --pending] [--output-dir DIR] [FILE ...]")
}
