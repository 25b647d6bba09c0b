import Foundation

/// Which kernels run the engine's convolutions (forward, input gradient, weight gradient).
/// Everything else (batch norm, pooling, GEMMs of linear layers) runs on the engine's own
/// kernels under either backend.
public enum Backend: String, Sendable, CaseIterable {
    /// oneDNN's convolution primitives, in the layouts they prefer (Sources/COneDNN): the
    /// networks run channels last throughout (`Engine.activationLayout`); NCHW callers get
    /// reorders per call. Built in when libdnnl-dev is installed (Package.swift).
    case onednn
    /// The engine's own im2col + GEMM kernels (`ConvKernels`): the reference the tests compare
    /// oneDNN against, and the fallback.
    case reference
}

/// The number format of a convolution's multiplied operands.
public enum Precision: String, Sendable, CaseIterable {
    /// fp32 throughout.
    case fp32
    /// Mixed precision: the convolution's input (or output gradient) and weights rounded to
    /// bfloat16, products accumulated and written in fp32; weights, batch norm and every other
    /// layer stay fp32 (oneDNN only, on CPUs with AVX512_BF16 or AMX for speed).
    case bf16
}

extension Engine {
    /// The precision of the convolutions (`--precision`); bf16 needs the oneDNN backend.
    nonisolated(unsafe) public private(set) static var precision: Precision = .fp32

    /// Sets the convolutions' precision; bf16 is refused where oneDNN cannot run it.
    public static func setPrecision(_ chosen: Precision) throws {
        if chosen == .bf16 {
            guard backend == .onednn else {
                throw TensorError.invalidArgument("--precision bf16 needs the oneDNN backend (this run uses \(backend.rawValue): docs/engine.md)")
            }
        }
        precision = chosen
    }

    /// Whether oneDNN may run fp32 3 × 3 stride-1 convolutions of 32 to 128 channels with
    /// Winograd's algorithm, where it measured faster (docs/engine.md § Winograd): the same
    /// convolution, other rounding (errors up to about 2e-6 of the sum of the products' sizes,
    /// a few times the direct algorithm's). On unless `ATTRIB_WINOGRAD=off` (or `0`; a bad
    /// value exits 64); tests and engine-bench set it.
    nonisolated(unsafe) public static var winograd: Bool = requestedWinograd {
        didSet {
            #if ONEDNN
            if availableBackends.contains(.onednn) { OneDNN.setWinograd(winograd) }
            #endif
        }
    }
    static let requestedWinograd: Bool = {
        switch ProcessInfo.processInfo.environment["ATTRIB_WINOGRAD"] ?? "" {
        case "", "on", "1": return true
        case "off", "0": return false
        case let other: refuse("ATTRIB_WINOGRAD=\(other): expected on or off")
        }
    }()

    /// Runs `body` with `winograd` set to `on`, then restores it.
    public static func withWinograd<T>(_ on: Bool, _ body: () throws -> T) rethrows -> T {
        let previous = winograd
        winograd = on
        defer { winograd = previous }
        return try body()
    }

    /// Whether the CPU has native bf16 dot products (without them oneDNN emulates bf16, slowly).
    public static var hasNativeBF16: Bool {
        #if ONEDNN
        return availableBackends.contains(.onednn) && OneDNN.hasNativeBF16
        #else
        return false
        #endif
    }

    /// The backends this build can run, the preferred first: oneDNN when it is built in and
    /// its engine starts, then the reference kernels.
    public static let availableBackends: [Backend] = {
        #if ONEDNN
        if OneDNN.isAvailable { return [.onednn, .reference] }
        #endif
        return [.reference]
    }()

    /// The backend in force. Starts as `ATTRIB_BACKEND` (onednn or reference) when that is
    /// set, else the first available; tests and engine-bench set it directly.
    nonisolated(unsafe) public static var backend: Backend = initialBackend()

    /// One line naming what runs the convolutions, for logs: "oneDNN 2.6.3 (avx512_core_bf16)
    /// convolutions, 2 threads" or "reference im2col + OpenBLAS convolutions, 2 threads".
    public static var backendDescription: String {
        let kernels: String
        switch backend {
        case .onednn:
            #if ONEDNN
            kernels = OneDNN.description
            #else
            kernels = "oneDNN"
            #endif
        case .reference: kernels = "reference im2col + OpenBLAS"
        }
        let wino = backend == .onednn && precision == .fp32 && winograd ? " (Winograd's where faster)" : ""
        return "\(kernels) convolutions\(precision == .bf16 ? " in bf16" : "")\(wino), \(threadCount) thread\(threadCount == 1 ? "" : "s")"
    }

    /// The feature maps' layout in the networks' passes: channels last on oneDNN, whose
    /// convolutions run in it, so that nothing is converted between layers; NCHW on the
    /// reference kernels. (Passes that need NCHW — data-parallel training, eval-mode parameter
    /// gradients — ask for it.) `withActivationLayout` overrides it.
    /// `ATTRIB_LAYOUT=nchw|nhwc` in the environment sets it for any stage (a check that a
    /// result does not hang on the layout; a bad value exits 64).
    public static var activationLayout: ActivationLayout {
        layoutOverride ?? requestedLayout ?? (backend == .onednn ? .nhwc : .nchw)
    }
    nonisolated(unsafe) private static var layoutOverride: ActivationLayout?
    static let requestedLayout: ActivationLayout? = {
        guard let requested = ProcessInfo.processInfo.environment["ATTRIB_LAYOUT"], !requested.isEmpty else { return nil }
        guard let layout = ActivationLayout(rawValue: requested) else {
            refuse("ATTRIB_LAYOUT=\(requested): expected nchw or nhwc")
        }
        return layout
    }()

    /// Runs `body` with passes in `layout` (tests, engine-bench), then restores.
    public static func withActivationLayout<T>(_ layout: ActivationLayout, _ body: () throws -> T) rethrows -> T {
        let previous = layoutOverride
        layoutOverride = layout
        defer { layoutOverride = previous }
        return try body()
    }

    /// Runs `body` with `backend` in force, then restores the previous one.
    public static func withBackend<T>(_ chosen: Backend, _ body: () throws -> T) rethrows -> T {
        precondition(availableBackends.contains(chosen), "backend \(chosen.rawValue) is not built in (available: \(availableBackends.map(\.rawValue)))")
        precondition(chosen == .onednn || precision == .fp32, "bf16 convolutions run on oneDNN only")
        let previous = backend
        backend = chosen
        defer { backend = previous }
        return try body()
    }

    /// Convolutions oneDNN had no implementation for, run by the engine's kernels instead.
    static var oneDNNFallbacks: Int {
        #if ONEDNN
        return OneDNN.fallbacks
        #else
        return 0
        #endif
    }

    static func initialBackend() -> Backend {
        guard let requested = ProcessInfo.processInfo.environment["ATTRIB_BACKEND"], !requested.isEmpty else {
            return availableBackends[0]
        }
        guard let chosen = Backend(rawValue: requested) else {
            refuse("ATTRIB_BACKEND=\(requested): expected one of \(Backend.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard availableBackends.contains(chosen) else {
            refuse("ATTRIB_BACKEND=\(requested): this build has no oneDNN (install libdnnl-dev and rebuild: docs/engine.md)")
        }
        return chosen
    }

    /// A bad ATTRIB_BACKEND is a usage error of whatever program reads it: say so, exit 64.
    private static func refuse(_ message: String) -> Never {
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
        exit(64)
    }
}
