import CMPI
import ClassifierKit
import Foundation
import PipelineKit

/// An MPI failure: the call and MPI's own message.
public struct MPIError: Error, CustomStringConvertible {
    public let call: String
    public let message: String
    public var description: String { "MPI: \(call) failed: \(message)" }
}

/// The ranks of an MPI job (MPI_COMM_WORLD) as a `Communicator`: the only code that calls
/// MPI. Collectives run on the calling thread (MPI_THREAD_FUNNELED); the engine's worker
/// threads never call MPI.
public final class MPICommunicator: Communicator {
    public let rank: Int
    public let replicaCount: Int
    private let world: MPI_Comm

    /// Whether this process was started by an MPI launcher: `mpirun` (Open MPI sets
    /// OMPI_COMM_WORLD_SIZE) or `srun --mpi=pmix|pmi2` (PMIX_RANK, PMI_RANK).
    public static var isLaunchedByMPI: Bool {
        let environment = ProcessInfo.processInfo.environment
        return ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"].contains { environment[$0] != nil }
    }

    /// Initialises MPI when the process was started by an MPI launcher; nil otherwise, so
    /// a plain launch never touches MPI.
    public static func fromEnvironment() throws -> MPICommunicator? {
        isLaunchedByMPI ? try MPICommunicator() : nil
    }

    private init() throws {
        var provided: Int32 = 0
        try Self.check("MPI_Init_thread") { MPI_Init_thread(nil, nil, cmpi_thread_funneled(), &provided) }
        let world = cmpi_comm_world()!
        self.world = world
        // Errors come back as return codes (turned into thrown errors or traps) instead of
        // MPI aborting with its own message.
        try Self.check("MPI_Comm_set_errhandler") { MPI_Comm_set_errhandler(world, cmpi_errors_return()) }
        var rank: Int32 = 0, size: Int32 = 0
        try Self.check("MPI_Comm_rank") { MPI_Comm_rank(world, &rank) }
        try Self.check("MPI_Comm_size") { MPI_Comm_size(world, &size) }
        self.rank = Int(rank)
        self.replicaCount = Int(size)
    }

    /// The one choke point: runs an MPI call and turns an error code into `MPIError`.
    private static func check(_ call: String, _ body: () -> Int32) throws {
        let code = body()
        guard code != cmpi_success() else { return }
        var text = [CChar](repeating: 0, count: Int(cmpi_max_error_string()) + 1)
        var length: Int32 = 0
        MPI_Error_string(code, &text, &length)
        throw MPIError(call: call, message: String(cString: text))
    }

    /// Collectives inside the engine cannot throw: a failed one ends the process with the
    /// message (the launcher then stops the other ranks).
    private func collective(_ call: String, _ body: () -> Int32) {
        do { try Self.check(call, body) } catch {
            Log.raw("rank \(rank) of \(replicaCount): \(error)\n")
            _exit(1)
        }
    }

    public func sum(_ values: inout [Double]) {
        let count = Int32(values.count)
        collective("MPI_Allreduce(double[\(count)])") {
            values.withUnsafeMutableBufferPointer {
                MPI_Allreduce(cmpi_in_place(), $0.baseAddress, count, cmpi_double(), cmpi_sum(), world)
            }
        }
    }

    public func sum(_ values: inout [Float]) {
        let count = Int32(values.count)
        collective("MPI_Allreduce(float[\(count)])") {
            values.withUnsafeMutableBufferPointer {
                MPI_Allreduce(cmpi_in_place(), $0.baseAddress, count, cmpi_float(), cmpi_sum(), world)
            }
        }
    }

    public func allGather(_ bytes: [UInt8]) -> [[UInt8]] {
        let count = bytes.count
        var all = [UInt8](repeating: 0, count: count * replicaCount)
        collective("MPI_Allgather(byte[\(count)])") {
            bytes.withUnsafeBufferPointer { send in all.withUnsafeMutableBufferPointer { receive in
                MPI_Allgather(send.baseAddress, Int32(count), cmpi_byte(), receive.baseAddress, Int32(count), cmpi_byte(), world)
            } }
        }
        return (0..<replicaCount).map { Array(all[$0 * count..<($0 + 1) * count]) }
    }

    public func finish() {
        collective("MPI_Finalize") { MPI_Finalize() }
    }
}
