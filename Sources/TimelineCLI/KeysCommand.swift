import ArgumentParser
import Foundation
import TimelinePipeline
import ZeroMQ

struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Manage CURVE key pairs.",
        subcommands: [Generate.self]
    )

    struct Generate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a new CURVE key pair as NAME.key (public) and NAME.key_secret (secret, mode 0600).",
            discussion: """
            Give servers (broker, aggregator) their NAME.key_secret as security.serverSecretKey and \
            clients the server's NAME.key as security.serverPublicKey. Each client gets its own pair \
            (security.clientSecretKey); copy its NAME.key into the servers' allow-list folder \
            (security.authorizedKeys).
            """
        )

        @Option(help: "The key pair's name, used for the file names.")
        var name: String

        @Option(help: "Folder to write the two files into.")
        var outputDir: String = "."

        @Flag(help: "Replace existing files of that name.")
        var force = false

        func validate() throws {
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
                throw ValidationError("--name takes letters, digits, '-', '_' and '.'")
            }
        }

        func run() async throws {
            try await DaemonRunner.guarded {
                guard zmqHas("curve") else { throw CLIError("this libzmq has no CURVE support", code: 69) }
                let publicPath = (outputDir as NSString).appendingPathComponent("\(name).key")
                if !force, FileManager.default.fileExists(atPath: publicPath) {
                    throw CLIError("\(publicPath) exists; pass --force to replace it", code: 73)
                }
                let pair = try CurveKeyPair.generate()
                let files = try CurveCertificate.write(pair, name: name, folder: outputDir)
                Output.write("\(files.publicFile)\n\(files.secretFile)\n")
            }
        }
    }
}
