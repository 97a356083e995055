import Foundation
import ZeroMQ

/// CURVE key files in the ZeroMQ certificate style (as czmq writes them): a public certificate
/// `NAME.key` with the public key, and a secret certificate `NAME.key_secret` with both keys, only
/// readable by its owner.
public enum CurveCertificate {
    public struct Contents: Sendable {
        public var publicKey: CurveKey
        public var secretKey: CurveKey?
    }

    /// Writes `NAME.key` and `NAME.key_secret` into `folder`; returns their paths.
    public static func write(_ pair: CurveKeyPair, name: String, folder: String) throws -> (publicFile: String, secretFile: String) {
        try AtomicFile.prepareFolder(folder)
        let stamp = ISO8601DateFormatter().string(from: Date())
        let publicFile = (folder as NSString).appendingPathComponent("\(name).key")
        let secretFile = (folder as NSString).appendingPathComponent("\(name).key_secret")
        let metadata = "metadata\n    name = \"\(name)\"\ncurve\n    public-key = \"\(pair.publicKey.z85)\"\n"
        try AtomicFile.write("#   ****  Generated on \(stamp) by timeline  ****\n#   ZeroMQ CURVE Public Certificate\n#   Exchange securely, or use a secure mechanism to verify the contents\n#   of this file after exchange. Store public certificates in your home\n#   directory, in the .curve subdirectory.\n\n" + metadata,
                             to: publicFile)
        try AtomicFile.write("#   ****  Generated on \(stamp) by timeline  ****\n#   ZeroMQ CURVE **Secret** Certificate\n#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n\n" + metadata + "    secret-key = \"\(pair.secretKey.z85)\"\n",
                             to: secretFile)
        guard chmod(secretFile, 0o600) == 0 else { throw StorageError(path: secretFile, operation: "chmod") }
        return (publicFile, secretFile)
    }

    /// Reads a certificate; with `needSecret`, it must hold the secret key too, and that key must
    /// belong to the public key.
    public static func read(_ path: String, needSecret: Bool) throws -> Contents {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SecurityError.keyFile(path: path, reason: FileManager.default.fileExists(atPath: path) ? "cannot be read" : "does not exist")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw SecurityError.keyFile(path: path, reason: "is not text") }
        var publicText: String?
        var secretText: String?
        for line in text.split(separator: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.hasPrefix("#"), let equals = trimmed.firstIndex(of: "=") else { continue }
            let key = trimmed[..<equals].trimmingCharacters(in: .whitespaces)
            let value = trimmed[trimmed.index(after: equals)...].trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            if key == "public-key" { publicText = value }
            if key == "secret-key" { secretText = value }
        }
        guard let publicText else { throw SecurityError.keyFile(path: path, reason: "holds no public-key") }
        guard let publicKey = CurveKey(z85: publicText) else { throw SecurityError.keyFile(path: path, reason: "its public-key is not a 40-character Z85 key") }
        var secretKey: CurveKey?
        if let secretText {
            guard let key = CurveKey(z85: secretText) else { throw SecurityError.keyFile(path: path, reason: "its secret-key is not a 40-character Z85 key") }
            guard (try? CurveKeyPair.derive(fromSecret: key))?.publicKey == publicKey else {
                throw SecurityError.keyFile(path: path, reason: "its secret-key does not belong to its public-key")
            }
            secretKey = key
        }
        if needSecret, secretKey == nil { throw SecurityError.keyFile(path: path, reason: "holds no secret-key (a .key_secret file is needed)") }
        return Contents(publicKey: publicKey, secretKey: secretKey)
    }

    /// Every public key in the certificates (`*.key`) of a folder: the allow list.
    public static func allowList(folder: String) throws -> [CurveKey: String] {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue,
              let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else {
            throw SecurityError.keyFile(path: folder, reason: "is not a readable folder of public certificates")
        }
        var keys: [CurveKey: String] = [:]
        for name in names.sorted() where name.hasSuffix(".key") {
            let path = (folder as NSString).appendingPathComponent(name)
            keys[try read(path, needSecret: false).publicKey] = String(name.dropLast(4))
        }
        return keys
    }
}
