import SACommon

// Arrives with its own issue; until then the tool states its usage and exits 64.
ToolMain.placeholder(tool: "save_audio_stream", usage: "save_audio_stream record|receiver --config FILE [--sync-only]")
