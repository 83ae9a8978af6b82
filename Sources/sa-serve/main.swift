import SACommon

// Arrives with its own issue; until then the tool states its usage and exits 64.
if CommandLine.arguments.contains("--version") {
    print(ToolInfo.version)
} else if CommandLine.arguments.contains("--help") || CommandLine.arguments.contains("-h") {
    ToolMain.printUsage("sa-serve --config FILE | --db FILE.sqlite")
} else {
    ToolMain.notYetAvailable(tool: "sa-serve", usage: "sa-serve --config FILE | --db FILE.sqlite")
}
