import Foundation
import SACommon
import SASync
import SAStore
import SAStorePostgres

/// The receiver's shared state: the show databases (opened once and reused, one connection per
/// show guarded by a lock) and the background sync (a pass at start, then every
/// `sync_interval_seconds`; never two at once, manual triggers included).
public final class ReceiverState: @unchecked Sendable {
    public let config: ReceiverConfig
    let credentials: Credentials
    let location: ReceiverStoreLocation
    let password: String?
    private let lock = NSLock()
    private var databases: [String: ShowDBPool] = [:]

    // Sync status.
    private var inProgress = false
    private var lastStarted: Date?
    private var lastFinished: Date?
    private var lastStatus: ExitStatus?
    private var lastError: String?
    private var lastTrigger = ""
    private var passShows: [String: JSONValue] = [:]
    private var passError: String?
    private var lastShows: [JSONValue] = []
    private var passes = 0
    private var failures = 0
    private var lastGood: Date?
    private var showErrors: [String: Int] = [:]
    let started = Date()

    struct MonitorFacts {
        var passes: Int
        var failures: Int
        var inProgress: Bool
        var lastGood: Date?
        var started: Date
        var errors: [String: Int]
    }

    func monitorFacts() -> MonitorFacts {
        lock.lock()
        defer { lock.unlock() }
        return MonitorFacts(passes: passes, failures: failures, inProgress: inProgress, lastGood: lastGood, started: started,
                            errors: showErrors)
    }

    public init(config: ReceiverConfig, credentials: Credentials) throws {
        self.config = config
        self.credentials = credentials
        (location, password) = try config.store(credentials: credentials)
    }

    // MARK: databases

    private var namesCache: (at: Date, names: [String])?

    /// The shows held locally (works with the recorder unreachable). Listing PostgreSQL
    /// databases takes a connection, so the list is kept for a few seconds and refreshed after
    /// each sync pass.
    public func showNames() throws -> [String] {
        lock.lock()
        if let c = namesCache, Date().timeIntervalSince(c.at) < 10 {
            lock.unlock()
            return c.names
        }
        lock.unlock()
        let names = try ShowDirectory.databases(config: .receiver(config), credentials: credentials, shows: []).list.map(\.show)
        lock.lock()
        namesCache = (Date(), names)
        lock.unlock()
        return names
    }

    public func database(_ show: String) throws -> ShowDBPool {
        _ = try ShowName.validate(show)
        lock.lock()
        if let d = databases[show] {
            lock.unlock()
            return d
        }
        lock.unlock()
        guard try showNames().contains(show) else { throw SAError(.missing, "unknown show '\(show)'") }
        let name = try ReceiverStoreLocation.databaseName(prefix: config.databasePrefix, show: show)
        let db: String
        switch location {
        case .postgres(let server): db = server.with(database: name).display
        case .sqlite(let dir): db = (dir as NSString).appendingPathComponent(name + ".sqlite")
        }
        let password = self.password
        let opened = ShowDBPool(size: 4) { try ShowDB.open(db: db, password: password, readOnly: true) }
        try opened.with { _ in }  // fail now, not per request
        lock.lock()
        defer { lock.unlock() }
        if let d = databases[show] { return d }
        databases[show] = opened
        return opened
    }

    // MARK: sync

    /// Starts a pass unless one runs; false when one is already running.
    public func triggerSync(_ trigger: String) -> Bool {
        lock.lock()
        if inProgress {
            lock.unlock()
            return false
        }
        inProgress = true
        lastStarted = Date()
        lastTrigger = trigger
        passShows = [:]
        passError = nil
        lock.unlock()
        let thread = Thread { [self] in runPass() }
        thread.stackSize = 4 << 20
        thread.start()
        return true
    }

    private func runPass() {
        let writer = JSONLineWriter(handle: stdout) { [weak self] record in
            guard let self else { return }
            let type = record["type"]?.stringValue
            self.lock.lock()
            if type == "error" { self.passError = record["message"]?.stringValue }
            if type == "show_synced" || type == "error", let show = record["show"]?.stringValue { self.passShows[show] = record }
            if type == "error", let show = record["show"]?.stringValue { self.showErrors[show, default: 0] += 1 }
            self.lock.unlock()
        }
        var status = ExitStatus.software
        var error: String?
        do {
            var options = SyncPass.Options()
            options.keepGoing = true  // the server syncs what it can; the status names what failed
            let pass = try SyncPass(config: config, credentials: credentials, output: writer, options: options)
            status = pass.run()
        } catch {
            let e = SAError.from(error)
            writer.write(e.record)
            status = e.exitStatus
        }
        lock.lock()
        if status != .ok {
            error = passError ?? "sync failed (exit status \(status.rawValue))"
        }
        inProgress = false
        lastFinished = Date()
        if status == .ok { lastGood = lastFinished } else { failures += 1 }
        lastStatus = status
        lastError = error
        lastShows = passShows.keys.sorted().map { passShows[$0]! }
        passes += 1
        namesCache = nil  // a pass may have created a show database
        let pools = Array(databases.values)
        lock.unlock()
        for p in pools { p.invalidateCaches() }
    }

    /// The background loop: a pass at start, then every interval (a manual pass in between
    /// does not add one).
    public func startBackgroundSync() {
        let thread = Thread { [self] in
            while true {
                _ = triggerSync("schedule")
                Thread.sleep(forTimeInterval: TimeInterval(config.syncIntervalSeconds))
            }
        }
        thread.stackSize = 1 << 20
        thread.start()
    }

    public func statusJSON() -> JSONValue {
        lock.lock()
        defer { lock.unlock() }
        func ms(_ d: Date?) -> JSONValue { d.map { .int(Int64($0.timeIntervalSince1970 * 1000)) } ?? .null }
        return .object([
            ("in_progress", .bool(inProgress)), ("passes", .int(Int64(passes))), ("trigger", .string(lastTrigger)),
            ("last_started_ms", ms(lastStarted)), ("last_finished_ms", ms(lastFinished)),
            ("last_result", lastStatus.map { $0 == .ok ? .string("ok") : .string("failed") } ?? .null),
            ("last_exit_status", lastStatus.map { .int(Int64($0.rawValue)) } ?? .null),
            ("last_error", lastError.map { .string($0) } ?? .null),
            ("sync_interval_seconds", .int(Int64(config.syncIntervalSeconds))), ("remote_url", .string(config.remoteURL)),
            ("shows", .array(lastShows)),
            ("database_errors", .object(databases.keys.sorted().compactMap { k in databases[k]!.currentError.map { (k, .string($0)) } })),
        ])
    }
}

/// A small pool of connections to one show database, opened on demand (up to `size`) and
/// reused; each connection runs one query at a time. Requests never open a connection of
/// their own once the pool has it.
///
/// A database that went away (PostgreSQL restarted or stopped) costs no crash and no stuck
/// pool: a connection found dead is dropped with every idle one (they died together), the
/// request is tried once more on a new connection, and while new connections fail they are
/// attempted at most once per backoff step (0.25 s doubling to 5 s), failing fast in between,
/// so the pool serves again within seconds of the server's return.
public final class ShowDBPool: @unchecked Sendable {
    private let lock = NSLock()
    private let open: () throws -> ShowDB
    private var idle: [ShowDB] = []
    private let slots: DispatchSemaphore
    private var backoff: TimeInterval = 0
    private var nextAttempt = Date.distantPast
    private var lastError: String?
    /// The last error opening or using the database, nil once it answers again.
    public var currentError: String? {
        lock.lock()
        defer { lock.unlock() }
        return lastError
    }
    /// Immutable facts cached per show: metadata and finished sections' timelines.
    private var cachedMetadata: [String: String]?
    private var timelines: [Int64: (last: Int64, rows: [(id: Int64, timestampMs: Int64, durationSamples: Int64)])] = [:]

    init(size: Int = 4, open: @escaping () throws -> ShowDB) {
        self.open = open
        slots = DispatchSemaphore(value: size)
    }

    public func with<T>(_ body: (ShowDB) throws -> T) throws -> T {
        slots.wait()
        defer { slots.signal() }
        do {
            return try attempt(body)
        } catch let e as SAError where e.code == .unavailable && !e.message.contains("retrying in") {
            // The connection died under the request (a server restart): once more, afresh.
            return try attempt(body)
        }
    }

    private func attempt<T>(_ body: (ShowDB) throws -> T) throws -> T {
        lock.lock()
        let reused = idle.popLast()
        lock.unlock()
        let db = try reused ?? connect()
        do {
            let v = try body(db)
            lock.lock()
            idle.append(db)
            lastError = nil
            lock.unlock()
            return v
        } catch {
            lock.lock()
            if db.isUsable {
                idle.append(db)
            } else {
                idle.removeAll()
                lastError = SAError.from(error).message
            }
            lock.unlock()
            throw error
        }
    }

    private func connect() throws -> ShowDB {
        lock.lock()
        let wait = nextAttempt.timeIntervalSinceNow
        let last = lastError
        lock.unlock()
        if wait > 0 {
            throw SAError(.unavailable,
                          "database unavailable: \(last ?? "connection failed"); retrying in \(String(format: "%.1f", wait)) s")
        }
        do {
            let db = try open()
            lock.lock()
            backoff = 0
            nextAttempt = .distantPast
            lock.unlock()
            return db
        } catch {
            let e = SAError.from(error)
            lock.lock()
            backoff = min(max(0.25, backoff * 2), 5)
            nextAttempt = Date().addingTimeInterval(backoff)
            lastError = e.message
            lock.unlock()
            throw e
        }
    }

    /// Forgets cached metadata and timelines (after a sync pass, which may have replaced the
    /// source and its id offsets).
    public func invalidateCaches() {
        lock.lock()
        cachedMetadata = nil
        timelines.removeAll()
        lock.unlock()
    }

    public func metadata() throws -> [String: String] {
        lock.lock()
        if let m = cachedMetadata {
            lock.unlock()
            return m
        }
        lock.unlock()
        let m = try with { try $0.metadata() }
        lock.lock()
        cachedMetadata = m
        lock.unlock()
        return m
    }

    /// A section's timeline, cached while the section's last segment stays the same.
    public func timeline(section: SectionInfo) throws -> [(id: Int64, timestampMs: Int64, durationSamples: Int64)] {
        let last = section.lastSegmentID ?? 0
        lock.lock()
        if let t = timelines[section.id], t.last == last {
            lock.unlock()
            return t.rows
        }
        lock.unlock()
        let rows = try with { try $0.timeline(section: section.id) }
        lock.lock()
        timelines[section.id] = (last, rows)
        lock.unlock()
        return rows
    }
}
