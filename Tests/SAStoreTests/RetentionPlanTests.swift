import SACommon
import XCTest
import SAStore

final class RetentionPlanTests: XCTestCase {
    func section(_ id: Int64, start: Int64, open: Bool = false) -> SectionInfo {
        SectionInfo(id: id, startTimestampMs: start, isOpen: open, endTimestampMs: nil, finishReason: nil,
                    firstSegmentID: id, lastSegmentID: id, segments: 1, durationSamples: 48000)
    }

    func testTable() {
        let cutoff: Int64 = 1000
        let cases: [(String, [(SectionInfo, Bool)], Int64?, [Int64])] = [
            ("nothing before the cutoff", [(section(1, start: 1500), true), (section(2, start: 2000), true)], nil, []),
            ("cutoff inside a session keeps it", [(section(1, start: 100), true), (section(2, start: 900), true),
                                                  (section(3, start: 1100), true)], 2, [1]),
            ("several old sessions", [(section(1, start: 100), true), (section(2, start: 200), true), (section(3, start: 300), true),
                                      (section(4, start: 1200), true)], 3, [1, 2]),
            ("open section survives", [(section(1, start: 100, open: true), true), (section(2, start: 200), true)], 2, []),
            ("a non-boundary section is not a boundary", [(section(1, start: 100), true), (section(2, start: 200), false),
                                                          (section(3, start: 1200), true)], 1, []),
        ]
        for (name, sections, boundary, deleted) in cases {
            let plan = RetentionPlan.make(sections: sections.map { (info: $0.0, boundary: $0.1) }, cutoffMs: cutoff)
            XCTAssertEqual(plan.boundarySectionID, boundary, name)
            XCTAssertEqual(plan.deleteSectionIDs, deleted, name)
        }
    }
}
