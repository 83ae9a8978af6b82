import SACommon
import CSoxr

/// A stateful libsoxr resampler for one mono stream: the filter state carries over between
/// calls, so chunk boundaries add neither clicks nor drift.
public final class Resampler {
    public let inputRate: Int
    public let outputRate: Int
    private let soxr: soxr_t?
    private var out = [Float](repeating: 0, count: 16384)

    public init(inputRate: Int, outputRate: Int) throws {
        self.inputRate = inputRate
        self.outputRate = outputRate
        if inputRate == outputRate {
            soxr = nil
            return
        }
        var err: soxr_error_t?
        var io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I)
        var q = soxr_quality_spec(UInt(SOXR_MQ), 0)
        let s = soxr_create(Double(inputRate), Double(outputRate), 1, &err, &io, &q, nil)
        if let err { throw SAError(.badAudio, "soxr_create failed: \(String(cString: err))") }
        soxr = s
    }

    deinit { if let soxr { soxr_delete(soxr) } }

    public func process(_ input: UnsafeBufferPointer<Float>, output: (UnsafeBufferPointer<Float>) throws -> Void) throws {
        guard let soxr else { return try output(input) }
        var offset = 0
        let needed = Int(Double(input.count) * Double(outputRate) / Double(inputRate)) + 256
        if out.count < needed { out = [Float](repeating: 0, count: needed) }
        repeat {
            var idone = 0, odone = 0
            let remaining = input.count - offset
            let err = out.withUnsafeMutableBufferPointer { o in
                soxr_process(soxr, input.baseAddress.map { $0 + offset }, remaining, &idone, o.baseAddress, o.count, &odone)
            }
            if let err { throw SAError(.badAudio, "soxr_process failed: \(String(cString: err))") }
            if odone > 0 { try out.withUnsafeBufferPointer { try output(UnsafeBufferPointer(rebasing: $0[0..<odone])) } }
            offset += idone
            if idone == 0 && odone == 0 { break }
        } while offset < input.count
    }

    /// Drains the filter's tail at end of input.
    public func flush(output: (UnsafeBufferPointer<Float>) throws -> Void) throws {
        guard let soxr else { return }
        while true {
            var odone = 0
            let err = out.withUnsafeMutableBufferPointer { o in
                soxr_process(soxr, nil, 0, nil, o.baseAddress, o.count, &odone)
            }
            if let err { throw SAError(.badAudio, "soxr flush failed: \(String(cString: err))") }
            if odone == 0 { break }
            try out.withUnsafeBufferPointer { try output(UnsafeBufferPointer(rebasing: $0[0..<odone])) }
        }
    }
}
