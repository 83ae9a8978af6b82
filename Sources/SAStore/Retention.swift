import Foundation
import SACommon

/// Boundary-preserving retention: cutoff = now − retention; the boundary is the last section
/// that starts at a natural boundary (its first segment has is_timestamp_from_source = 1)
/// before the cutoff; every finished section before the boundary goes, nothing at or after it,
/// and never the open section. At least `retention` of audio stays and no session is cut.
public struct RetentionPlan: Sendable, Equatable {
    public var cutoffMs: Int64
    public var boundarySectionID: Int64?
    public var deleteSectionIDs: [Int64]

    public static func make(sections: [(info: SectionInfo, boundary: Bool)], cutoffMs: Int64) -> RetentionPlan {
        let boundary = sections.filter { $0.boundary && $0.info.startTimestampMs < cutoffMs }.map(\.info.id).max()
        guard let b = boundary else { return RetentionPlan(cutoffMs: cutoffMs, boundarySectionID: nil, deleteSectionIDs: []) }
        let delete = sections.filter { $0.info.id < b && !$0.info.isOpen }.map(\.info.id).sorted()
        return RetentionPlan(cutoffMs: cutoffMs, boundarySectionID: b, deleteSectionIDs: delete)
    }
}

public enum Pruner {
    /// Plans and (unless `dryRun`) applies retention to one show database; returns the
    /// `pruned` record. A failure leaves the data untouched (one transaction).
    public static func prune(_ db: ShowDB, show: String, retentionHours: Int, dryRun: Bool,
                             now: Date = Date()) throws -> JSONValue {
        let cutoff = Int64(now.timeIntervalSince1970 * 1000) - Int64(retentionHours) * 3_600_000
        let sections = try db.sections().map { (info: $0, boundary: $0.segments > 0 ? try db.startsAtBoundary($0.id) : false) }
        let plan = RetentionPlan.make(sections: sections, cutoffMs: cutoff)
        let sizes = try db.sizes(of: plan.deleteSectionIDs)
        if !dryRun && !plan.deleteSectionIDs.isEmpty {
            try db.deleteSections(plan.deleteSectionIDs)
            try db.reclaimSpace()
        }
        return .object([("type", "pruned"), ("show", .string(show)), ("db", .string(db.location)), ("cutoff_ms", .int(cutoff)),
                        ("boundary_section_id", plan.boundarySectionID.map { .int($0) } ?? .null),
                        ("sections_deleted", .int(Int64(plan.deleteSectionIDs.count))), ("segments_deleted", .int(sizes.segments)),
                        ("bytes_freed", .int(sizes.bytes)), ("dry_run", .bool(dryRun))])
    }
}
