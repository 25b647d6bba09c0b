import Foundation

extension H5File {
    /// The most bytes one read may allocate: the machine's physical memory. A file is
    /// untrusted, so a shape it declares (2³⁴ rows in a few bytes of header) is checked
    /// against this before anything is allocated; `ATTRIB_ADV_READ_LIMIT_BYTES` lowers it
    /// (tests, or a shared machine).
    public static var readLimitBytes: Int {
        let memory = Int(clamping: ProcessInfo.processInfo.physicalMemory)
        if let text = ProcessInfo.processInfo.environment["ATTRIB_ADV_READ_LIMIT_BYTES"], let limit = Int(text), limit > 0 {
            return min(limit, memory)
        }
        return memory
    }

    /// The element count of `shape` (`[]` is one scalar), in overflow-checked arithmetic,
    /// refused with the file, the object and the limit when it overflows or when
    /// `elementSize`-byte elements would exceed `readLimitBytes`.
    func checkedCount(_ shape: [Int], elementSize: Int, object: String, what: String = "reading it") throws -> Int {
        var count = 1
        for extent in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: extent)
            guard extent >= 0, !overflow else {
                throw H5Error(file: path, object: object, message: "declares shape \(shape), whose element count overflows; "
                              + "the file is damaged or was not written by this tool")
            }
            count = product
        }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: max(1, elementSize))
        let limit = Self.readLimitBytes
        guard !overflow, bytes <= limit else {
            throw H5Error(file: path, object: object,
                          message: "declares shape \(shape) (\(overflow ? "more than \(Int.max)" : String(bytes)) bytes); "
                          + "\(what) would need more than the \(limit)-byte limit (this machine's memory)")
        }
        return count
    }
}
