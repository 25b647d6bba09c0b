import ArgumentParser
import Foundation

/// A stage's command: `@main struct Train: StageCommand`. Like `ParsableCommand`, except
/// that a negative number after an option is taken as that option's value, so
/// `--epochs -1` is refused by the option's own check ("--epochs must be at least 1")
/// instead of ArgumentParser's "Missing value", which reads `-1` as an option.
public protocol StageCommand: ParsableCommand {}

extension StageCommand {
    /// Parses the process's arguments (negative numbers joined to their options), runs the
    /// command and exits: 64 for a usage error, 1 for a failure.
    public static func main() {
        main(NegativeNumbers.joined(Array(CommandLine.arguments.dropFirst())))
    }
}

/// Rewrites negative numbers on a command line into `--option=value` form.
public enum NegativeNumbers {
    /// Whether `text` is a negative number (`-1`, `-0.5`, `-.5`, `-1e-3`, `-inf`, `-nan`).
    static func isNegativeNumber(_ text: String) -> Bool {
        guard text.hasPrefix("-"), !text.hasPrefix("--"), text.count > 1 else { return false }
        return Double(text) != nil
    }

    /// `--name -1` becomes `--name=-1`; a negative number later in a list (`--eps 0.1 -0.2`)
    /// becomes `--eps=-0.2`, which list options accumulate. Everything after `--` is kept.
    public static func joined(_ arguments: [String]) -> [String] {
        var result: [String] = []
        var option: String?  // the latest `--name` without an attached value
        for (position, argument) in arguments.enumerated() {
            if argument == "--" { return result + arguments[position...] }
            if isNegativeNumber(argument), let name = option {
                if result.last == name { result.removeLast() }
                result.append("\(name)=\(argument)")
                continue
            }
            if argument.hasPrefix("--") {
                option = argument.contains("=") ? String(argument.prefix { $0 != "=" }) : argument
            } else if argument.hasPrefix("-") {
                option = nil
            }
            result.append(argument)
        }
        return result
    }
}
