import SACommon

// Arrives with its own issue; until then the tool states its usage and exits 64.
if CommandLine.arguments.contains("--version") {
    print(ToolInfo.version)
} else if CommandLine.arguments.contains("--help") || CommandLine.arguments.contains("-h") {
    ToolMain.printUsage("save_audio_stream record|receiver --config FILE [--sync-only]")
} else {
    ToolMain.notYetAvailable(tool: "save_audio_stream", usage: "save_audio_stream record|receiver --config FILE [--sync-only]")
}
