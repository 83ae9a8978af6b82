import Foundation
import SACommon
import SAStore

/// `sa-record --config`: every show's daily window in one process, each show on a thread of
/// its own, until a stop signal (or, with `once`, after one window each). After each window,
/// retention runs (the same code as sa-prune); its failure is a warning and recording goes on.
public enum DailyScheduler {
    /// A session of a record config with its recorder.
    public struct Show {
        let session: SessionConfig
        let recorder: ShowRecorder

        /// The session's recorder (its database opened or created); the session must have a window.
        public init(session: SessionConfig, config: RecordConfig) throws {
            precondition(session.window != nil, "a scheduled session has a window")
            self.session = session
            recorder = try ShowRecorder(job: RecordingJob(session: session, config: config))
        }
    }

    /// Runs the shows; returns each show's outcome over all its windows, in the given order.
    public static func run(_ shows: [Show], once: Bool) -> [(show: String, outcome: RecordingOutcome)] {
        let results = OutcomeTable(count: shows.count)
        let group = DispatchGroup()
        for (i, show) in shows.enumerated() {
            group.enter()
            let thread = Thread {
                results.set(i, (show.recorder.job.show, runWindows(show, once: once)))
                group.leave()
            }
            thread.stackSize = 4 << 20
            thread.start()
        }
        group.wait()
        return results.all
    }

    private static func runWindows(_ show: Show, once: Bool) -> RecordingOutcome {
        let recorder = show.recorder
        let log = SALog.logger("sa-record[\(recorder.job.show)]")
        var total = RecordingOutcome()
        while !StopSignal.requested {
            let w = show.session.window!.currentOrNext(after: Date())
            if w.start > Date() {
                log.info("next window \(w.start) – \(w.end)")
                StopSignal.sleep(w.start.timeIntervalSinceNow)
                if StopSignal.requested { break }
            }
            let o = recorder.record(until: w.end, deadlineReason: "window_end")
            total.sections += o.sections
            total.segments += o.segments
            total.failedAttempts += o.failedAttempts
            total.lastFailure = o.lastFailure ?? total.lastFailure
            total.diskLow = total.diskLow || o.diskLow
            total.stoppedBySignal = o.stoppedBySignal
            do {
                JSONLineWriter.stdout.write(try Pruner.prune(recorder.store, show: recorder.job.show, retentionHours: show.session.retentionHours,
                                                             dryRun: false))
            } catch {
                log.warning("retention cleanup failed: \(error)")
            }
            if once || o.diskLow { break }
        }
        return total
    }
}

extension RecordingOutcome {
    /// The exit status of a recording run: 74 when the disk ran low, else 69 when a show
    /// recorded nothing because every attempt failed (each such show is told to `report`).
    public static func exitStatus(_ outcomes: [(show: String, outcome: RecordingOutcome)], report: (String) -> Void) -> ExitStatus {
        var status = ExitStatus.ok
        for (show, o) in outcomes {
            if o.diskLow {
                status = .ioError
            } else if o.sections == 0 && o.failedAttempts > 0 && !o.stoppedBySignal && status == .ok {
                report("\(show): nothing recorded; last failure: \(o.lastFailure ?? "unknown")")
                status = .unavailable
            }
        }
        return status
    }
}

/// Per-show results written by the recording threads.
final class OutcomeTable: @unchecked Sendable {
    private let lock = NSLock()
    private var rows: [(show: String, outcome: RecordingOutcome)]

    init(count: Int) { rows = Array(repeating: ("", RecordingOutcome()), count: count) }

    func set(_ i: Int, _ row: (show: String, outcome: RecordingOutcome)) {
        lock.lock()
        rows[i] = row
        lock.unlock()
    }

    var all: [(show: String, outcome: RecordingOutcome)] {
        lock.lock()
        defer { lock.unlock() }
        return rows
    }
}
