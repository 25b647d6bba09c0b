import Foundation

/// The outcome of running a built executable.
public struct ProcessResult {
    public let status: Int32
    public let stdout: String
    public let stderr: String
}

/// Runs a built stage executable (from the products directory) with `arguments`,
/// capturing its output; `environment` entries are added to the current environment.
public func runStage(_ name: String, _ arguments: [String], environment: [String: String] = [:],
                     currentDirectory: URL? = nil) throws -> ProcessResult {
    try runProcess(TestPaths.productsDirectory.appendingPathComponent(name), arguments,
                   environment: ProcessInfo.processInfo.environment.merging(environment) { $1 },
                   currentDirectory: currentDirectory)
}

/// Runs `executable` with `arguments` and exactly `environment`, capturing its output.
public func runProcess(_ executable: URL, _ arguments: [String], environment: [String: String],
                       currentDirectory: URL? = nil) throws -> ProcessResult {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    process.environment = environment
    if let currentDirectory { process.currentDirectoryURL = currentDirectory }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Read both pipes before waiting, so a chatty process never blocks on a full pipe.
    let errData = PipeReader(err)
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return ProcessResult(status: process.terminationStatus,
                         stdout: String(decoding: outData, as: UTF8.self),
                         stderr: String(decoding: errData.wait(), as: UTF8.self))
}

/// Drains a pipe on a background queue until EOF.
private final class PipeReader: @unchecked Sendable {
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)

    init(_ pipe: Pipe) {
        DispatchQueue.global().async {
            self.data = pipe.fileHandleForReading.readDataToEndOfFile()
            self.done.signal()
        }
    }

    func wait() -> Data {
        done.wait()
        return data
    }
}
