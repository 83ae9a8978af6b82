import ArgumentParser
import Foundation
import SACommon
import SATool
import SAPush
import SAStore

@main
struct PushCommand: ParsableCommand {
    static let configuration = CommandConfiguration.tool(
        "sa-push",
        abstract: "Archive files over SFTP: exactly once, never a partial file under the final name.",
        discussion: """
            Reads JSON lines with file_path (sa-export's exported records) from standard input, or pushes the \
            FILE arguments, to the [sftp] target of the config. Writes pushed records. See sa-push(1).
            """
    )

    @OptionGroup var common: CommonOptions

    @OptionGroup var dbCredentials: DatabaseCredentialOption

    @Argument(help: ArgumentHelp("Files to push (default: JSON lines on standard input).", valueName: "file"))
    var files: [String] = []

    func run() throws {
        ToolMain.run(tool: "sa-push", options: common) {
            signal(SIGPIPE, SIG_IGN)  // a peer that went away is an error to report, not a way to die
            let file = common.config ?? ConfigPaths.recordConfig()
            let config = try ConfigLoader.loadRecord(file: file)
            guard let sftp = config.sftp else { throw SAError.config("\(file) has no [sftp] table; sa-push needs one") }
            let credentials = Credentials(file: common.credentials)
            // One push run per config at a time; the kernel drops the lock if we die.
            let absolute = URL(fileURLWithPath: file).standardizedFileURL.path
            let lockName = "sa-push-\(getuid())-\(String(CRC32.checksum(Array(absolute.utf8)), radix: 16))"
            let lock: ShowLock
            do {
                lock = try ShowLock.acquire(directory: NSTemporaryDirectory(), show: lockName)
            } catch let e as SAError where e.exitStatus == .tempFail {
                throw SAError(.locked, "another sa-push is running with \(file); try again later")
            }
            defer { lock.release() }
            let pusher = Pusher(config: sftp, credentials: credentials, showProgress: isatty(STDERR_FILENO) != 0)
            pusher.databasePassword = try dbCredentials.password(credentials)
            defer { pusher.close() }
            var failed = false
            func one(_ local: String, _ show: String?, _ db: String?, _ section: Int64?) throws {
                do {
                    JSONLineWriter.stdout.write(try pusher.push(local: local, show: show, db: db, sectionID: section))
                } catch let e as SAError where [.notFound, .changed, .uploadMismatch, .badFileName].contains(e.code) {
                    // This file failed; the connection is fine, the others go on.
                    ToolMain.report(e, tool: "sa-push")
                    failed = true
                }
            }
            if files.isEmpty {
                try JSONLineReader().forEachLine(paths: []) { result, _ in
                    switch result {
                    case .failure(let e):
                        ToolMain.report(e, tool: "sa-push")
                        failed = true
                    case .success(let r):
                        guard let path = r["file_path"]?.stringValue else {
                            if r["type"]?.stringValue == "exported" || r["type"] == nil {
                                let e = SAError(.missingField, "a line without file_path: \(r.serialized().prefix(120))")
                                ToolMain.report(e, tool: "sa-push")
                                failed = true
                            }
                            return
                        }
                        if let t = r["type"]?.stringValue, t != "exported" { return }
                        try one(path, r["show"]?.stringValue, r["db"]?.stringValue, r["section_id"]?.intValue)
                    }
                }
            } else {
                for f in files { try one(f, nil, nil, nil) }
            }
            return failed ? .someFailed : .ok
        }
    }
}
